"""Physics of the vectorized Flappy Bird world."""

import numpy as np

from neuroplay.evo.flappy.world import PHYS, Course, World


def test_flap_trajectory_matches_the_classic_game():
    w = World(1, course=0, compact=False)
    heights = []
    for t in range(20):
        w.step(np.array([t == 0]))
        heights.append(float(w.y[0]))
    steps = np.diff([PHYS.start_y, *heights])
    # a flap sets the speed to -9, then gravity adds 1 per frame up to a fall speed of 10
    assert steps.tolist() == [-9, -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    w.step(np.array([False]))
    assert w.y[0] - heights[-1] == 10  # capped


def test_falling_bird_hits_the_ground():
    w = World(1, course=0, compact=False)
    while w.n_alive:
        w.step(np.array([False]))
    assert w.y[0] + PHYS.bird_h >= PHYS.ground_y - 1
    assert w.frame < 30 and w.pipes_all()[0] == 0


def test_pipe_collision_and_passing():
    course = Course(5)
    x0, gap = course.pipe(0)
    # a bird that stays in the middle of the first gap (by "teleporting" between frames) passes it
    w = World(2, course, compact=False)
    frames_to_pipe = (x0 + PHYS.pipe_w // 2 - (PHYS.bird_x + PHYS.bird_w // 2)) // PHYS.pipe_speed + 2
    for _ in range(frames_to_pipe):
        w.y[:] = [gap + 38, gap - 30]  # bird 0 inside the gap, bird 1 level with the upper pipe
        w.vy[:] = 0
        w.step(np.array([False, False]))
    assert w.alive.tolist() == [True, False]
    assert w.pipes_all().tolist() == [1, 0]
    # died when the pipe reached it, not before
    x_at_death = x0 - PHYS.pipe_speed * (w.frames_all()[1] + 1)
    assert x_at_death < PHYS.bird_x + PHYS.bird_w <= x_at_death + PHYS.pipe_speed


def test_lower_pipe_kills_too():
    course = Course(5)
    x0, gap = course.pipe(0)
    w = World(1, course, compact=False)
    for _ in range(200):
        if not w.n_alive:
            break
        w.y[:] = gap + PHYS.gap - PHYS.bird_h + 5  # 5 px into the lower pipe
        w.vy[:] = 0
        w.step(np.array([False]))
    assert not w.alive[0] and w.pipes_all()[0] == 0


def test_courses_are_reproducible_and_within_spec():
    a, b, c = Course(7), Course(7), Course(8)
    pa = [a.pipe(i) for i in range(600)]  # crosses a generation block
    assert pa == [b.pipe(i) for i in range(600)]
    assert pa != [c.pipe(i) for i in range(600)]
    x = np.array([p[0] for p in pa])
    gaps = np.array([p[1] for p in pa])
    spacing_frames = np.diff(x) / PHYS.pipe_speed
    assert spacing_frames.min() >= 36 and spacing_frames.max() <= 41
    assert set(np.unique(spacing_frames)) == set(range(36, 42))
    assert gaps.min() >= 100 and gaps.max() <= 170
    assert pa[0][0] == PHYS.first_pipe_x


def test_no_flap_above_the_ceiling():
    w = World(1, course=0, compact=False)
    w.y[:] = PHYS.ceiling - 1
    w.vy[:] = 0
    w.step(np.array([True]))
    assert w.vy[0] == 1  # the flap was ignored; gravity acted


def test_compaction_keeps_results_per_bird():
    course = Course(2)
    full, compact = World(50, course, compact=False), World(50, course)
    rng = np.random.default_rng(0)
    flaps = rng.random((400, 50)) < 0.08
    for f in flaps:
        if full.n_alive:
            full.step(f)
        if compact.n_alive:
            compact.step(f[compact.ids])
    assert np.array_equal(full.frames_all(), compact.frames_all())
    assert np.array_equal(full.pipes_all(), compact.pipes_all())
    assert len(compact.y) < 50


def test_birds_on_different_courses_match_single_course_worlds():
    courses = [Course(11), Course(12), Course(13)]
    course_of = np.array([0, 1, 2, 0, 1, 2])
    multi = World(6, courses, course_of=course_of)
    singles = [World(6, Course(s)) for s in (11, 12, 13)]
    rng = np.random.default_rng(1)
    for _ in range(600):
        f = rng.random(6) < 0.09
        if multi.n_alive:
            multi.step(f[multi.ids])
        for w in singles:
            if w.n_alive:
                w.step(f[w.ids])
    for i, c in enumerate(course_of):
        assert multi.frames_all()[i] == singles[c].frames_all()[i]
        assert multi.pipes_all()[i] == singles[c].pipes_all()[i]
