"""The Flappy Bird world, vectorized: a whole population flies through one pipe course at once.

Geometry and physics follow the classic game (288×512 screen, 60 fps):

- the bird is a 34×24 box at x = 57; each frame its vertical speed grows by 1 px/frame up to
  10 (falling), and a flap sets it to −9 (a flap is ignored once the bird is 48 px above the
  top of the screen, as in the original);
- pipes are 52 px wide, move left 4 px/frame and leave a 100 px gap whose top is uniform in
  [100, 170]; consecutive pipes are 36–41 frames (144–164 px) apart; the first pipe starts
  at x = 488;
- the bird dies when its box touches a pipe (the upper pipe reaches up forever, so flying
  over the top is no way round) or the ground at y = 404;
- a pipe counts as passed when the bird's centre passes the pipe's centre.

Every bird sees the same pipes, so the pipe state is shared scalars; only heights, speeds
and liveness are per-bird arrays. A course is fully determined by its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Physics:
    screen_w: int = 288
    screen_h: int = 512
    ground_y: float = 404.0
    bird_x: int = 57
    bird_w: int = 34
    bird_h: int = 24
    gravity: float = 1.0
    max_fall: float = 10.0
    flap_speed: float = -9.0
    ceiling: float = -48.0  # no flapping above this height (2 bird heights over the screen)
    pipe_w: int = 52
    pipe_speed: int = 4
    gap: int = 100
    gap_top_min: int = 100
    gap_top_max: int = 170
    spacing_min: int = 36  # frames between pipes
    spacing_max: int = 41
    first_pipe_x: int = 488
    start_y: float = 244.0  # the classic start height, int((512 - 24) / 2)


PHYS = Physics()


class Course:
    """The pipes of one course: start positions (at frame 0) and gap tops, from a seed.

    Pipes are generated in blocks as the birds get further, so a course is endless and the
    same seed always gives the same pipes. ``hard=True`` makes a training course that is
    still within the game's rules but near their edge: gap tops from the top or bottom third
    of their range and the shortest spacings (36–37 frames), so steep climbs and drops come
    every other pipe instead of a few times in a hundred.
    """

    BLOCK = 256

    def __init__(self, seed: int, phys: Physics = PHYS, hard: bool = False):
        self.seed = int(seed)
        self.phys = phys
        self.hard = hard
        self._rng = np.random.default_rng(self.seed)
        self.x0 = np.zeros(0, dtype=np.int64)
        self.gap_top = np.zeros(0, dtype=np.int64)
        self._extend()

    def _extend(self) -> None:
        p = self.phys
        if self.hard:
            spacing = self._rng.integers(p.spacing_min, p.spacing_min + 2, size=self.BLOCK) * p.pipe_speed
            third = (p.gap_top_max - p.gap_top_min) // 3
            low = self._rng.integers(p.gap_top_min, p.gap_top_min + third + 1, size=self.BLOCK)
            high = self._rng.integers(p.gap_top_max - third, p.gap_top_max + 1, size=self.BLOCK)
            gaps = np.where(self._rng.random(self.BLOCK) < 0.5, low, high)
        else:
            spacing = self._rng.integers(p.spacing_min, p.spacing_max + 1, size=self.BLOCK) * p.pipe_speed
            gaps = self._rng.integers(p.gap_top_min, p.gap_top_max + 1, size=self.BLOCK)
        start = p.first_pipe_x if len(self.x0) == 0 else self.x0[-1] + spacing[0]
        x0 = start + np.concatenate([[0], np.cumsum(spacing[1:])])
        self.x0 = np.concatenate([self.x0, x0])
        self.gap_top = np.concatenate([self.gap_top, gaps])

    def pipe(self, i: int) -> tuple[int, int]:
        """``(x at frame 0, gap top)`` of pipe ``i``."""
        while i >= len(self.x0):
            self._extend()
        return int(self.x0[i]), int(self.gap_top[i])

    def visible(self, frame: int, width: int | None = None) -> list[tuple[int, int]]:
        """``(x, gap top)`` of the pipes on screen at ``frame`` (for drawing)."""
        p = self.phys
        width = p.screen_w if width is None else width
        out, i = [], 0
        while True:
            x0, gap = self.pipe(i)
            x = x0 - p.pipe_speed * frame
            if x >= width:
                return out
            if x + p.pipe_w > 0:
                out.append((x, gap))
            i += 1


class World:
    """``n`` birds flying pipe courses. Call :meth:`step` with a flap decision per active bird.

    By default every bird flies the same course, as in the original experiment. Pass several
    courses and ``course_of`` (a course index per bird) to score birds on several courses in
    one batched pass: each (bird, course) pair is then one row.

    Every bird is at the same x, so which pipe is next (and which one it scores next) depends
    only on the course and the frame: that state is kept per course (``next_k``, ``score_k``),
    and a frame's per-bird work is just the physics, the collision test and the bookkeeping.

    To keep a frame's cost proportional to the birds still flying, the per-bird arrays hold
    only *active* birds: ``ids`` maps them to their rows, and every so often dead birds are
    dropped (:meth:`step` then returns the mask of birds kept, so a caller holding per-bird
    data, such as network weights, can drop the same rows). ``frames_all()`` and
    ``pipes_all()`` give every row's result.
    """

    _PER_BIRD = ("ids", "course_of", "y", "vy", "alive", "pipes", "miss", "died_at")

    def __init__(
        self,
        n: int,
        course: Course | int | list[Course],
        phys: Physics = PHYS,
        compact: bool = True,
        course_of: np.ndarray | None = None,
    ):
        self.phys = phys
        if isinstance(course, list):
            self.courses = course
        else:
            self.courses = [course if isinstance(course, Course) else Course(course, phys)]
        self.n = int(n)
        self.compact_dead = compact
        self.ids = np.arange(self.n)
        self.course_of = np.zeros(self.n, dtype=np.int64) if course_of is None else np.asarray(course_of, np.int64)
        if self.course_of.shape != (self.n,) or self.course_of.min(initial=0) < 0:
            raise ValueError("course_of needs one course index per bird")
        if self.course_of.max(initial=0) >= len(self.courses):
            raise ValueError("course_of names a course that was not given")
        self._single = len(self.courses) == 1  # then per-course values broadcast without a gather
        self.y = np.full(self.n, phys.start_y)
        self.vy = np.zeros(self.n)
        self.alive = np.ones(self.n, dtype=bool)
        self.pipes = np.zeros(self.n, dtype=np.int64)
        self.miss = np.zeros(self.n)  # at death: vertical distance (px) from the bird's centre to the gap's
        self.died_at = np.zeros(self.n, dtype=np.int64)  # frames survived, set when the bird stops
        k = len(self.courses)
        self.next_k = np.zeros(k, dtype=np.int64)  # per course: first pipe whose right edge is ahead of the birds
        self.score_k = np.zeros(k, dtype=np.int64)  # per course: first pipe whose centre the birds have not passed
        self._final_frames = np.zeros(self.n, dtype=np.int64)
        self._final_pipes = np.zeros(self.n, dtype=np.int64)
        self._final_miss = np.zeros(self.n)
        self.n_alive = self.n
        self.frame = 0
        self._table_len = 0
        self._base = np.arange(k, dtype=np.int64)
        self._build_table(Course.BLOCK)

    @property
    def course(self) -> Course:
        """The (first) course, for drawing."""
        return self.courses[0]

    def _build_table(self, length: int) -> None:
        # pipes of all courses as one flat array, so a frame looks them up with one gather
        for c in self.courses:
            c.pipe(length - 1)
        self._x0 = np.concatenate([c.x0[:length] for c in self.courses])
        self._gap = np.concatenate([c.gap_top[:length] for c in self.courses])
        self._table_len = length
        self._base = np.arange(len(self.courses), dtype=np.int64) * length

    def _course_pipes(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(x now, gap top)`` of pipe ``idx[c]`` of every course ``c``."""
        if idx.max() >= self._table_len:
            self._build_table(self._table_len * 2)
        flat = self._base + idx
        return self._x0[flat] - self.phys.pipe_speed * self.frame, self._gap[flat]

    def _per_bird(self, values: np.ndarray) -> np.ndarray:
        return values if self._single else values[self.course_of]

    # --- what a bird sees ------------------------------------------------------------------

    @property
    def next_idx(self) -> np.ndarray:
        """Each active bird's next pipe (index into its course)."""
        return self.next_k[self.course_of]

    @property
    def score_idx(self) -> np.ndarray:
        """Each active bird's next pipe to score."""
        return self.score_k[self.course_of]

    @property
    def frames(self) -> np.ndarray:
        """Frames survived by each active bird so far."""
        return np.where(self.alive, self.frame, self.died_at)

    def next_pipe_state(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, gap top)`` of each active bird's next pipe now."""
        x, gap = self._course_pipes(self.next_k)
        return x[self.course_of], gap[self.course_of]

    def observe(self) -> np.ndarray:
        """The original three inputs for every active bird, shape ``(n_active, 3)``:
        ``height/512 − 0.5``, ``distance to the next pipe/450 − 0.5``, ``gap centre/512 − 0.5``."""
        x, gap = self._course_pipes(self.next_k)
        obs = np.empty((len(self.y), 3), dtype=np.float32)
        np.multiply(self.y, 1.0 / 512.0, out=obs[:, 0], casting="unsafe")
        obs[:, 0] -= 0.5
        obs[:, 1] = self._per_bird((x - self.phys.bird_x) / 450.0 - 0.5)
        obs[:, 2] = self._per_bird((gap + self.phys.gap / 2) / 512.0 - 0.5)
        return obs

    # --- one frame ----------------------------------------------------------------------------

    def step(self, flap: np.ndarray) -> np.ndarray | None:
        """Advance one frame. ``flap``: one decision per active bird. Returns the keep-mask
        over the active birds when dead ones were dropped, else None."""
        p = self.phys
        y, vy = self.y, self.vy
        flap = np.asarray(flap, dtype=bool) & (y > p.ceiling)
        vy += p.gravity
        np.minimum(vy, p.max_fall, out=vy)
        np.copyto(vy, p.flap_speed, where=flap)
        y += vy
        np.minimum(y, p.ground_y - p.bird_h, out=y)  # the bird lands on the ground, not in it
        self.frame += 1

        # the pipes moved: a course whose next pipe is now behind the birds moves on to the
        # one after (pipes are further apart than they move in a frame, so one check suffices)
        x, gap = self._course_pipes(self.next_k)
        behind = x + p.pipe_w <= p.bird_x
        if behind.any():
            self.next_k += behind
            x, gap = self._course_pipes(self.next_k)
        hit = y >= p.ground_y - 1 - p.bird_h
        overlap = x < p.bird_x + p.bird_w
        if overlap.any():  # a pipe is level with the birds: outside its gap is death
            top = self._per_bird(gap)
            outside = (y < top) | (y > top + (p.gap - p.bird_h))
            hit |= outside if self._single else outside & overlap[self.course_of]
        dying = hit & self.alive
        if dying.any():
            centre = self._per_bird(gap + p.gap / 2)
            self.miss[dying] = np.abs(y + p.bird_h / 2 - centre)[dying]
            self.died_at[dying] = self.frame - 1
            self.alive &= ~hit
        # passing: the birds' centre reaches the pipe's centre
        sx, _ = self._course_pipes(self.score_k)
        passed = sx + p.pipe_w / 2 <= p.bird_x + p.bird_w / 2
        if passed.any():
            self.pipes += self.alive & self._per_bird(passed)
            self.score_k += passed

        self.n_alive = int(np.count_nonzero(self.alive))
        dead = len(self.alive) - self.n_alive
        if self.compact_dead and dead and (self.n_alive == 0 or dead >= max(8, len(self.alive) // 4)):
            return self._drop_dead()
        return None

    def retire(self, mask: np.ndarray) -> np.ndarray | None:
        """Stop the masked active birds as if they had finished (e.g. reached a pipe cap):
        their frames and pipes so far are their result."""
        stop = np.asarray(mask, dtype=bool) & self.alive
        self.died_at[stop] = self.frame
        self.alive &= ~stop
        self.n_alive = int(np.count_nonzero(self.alive))
        return self._drop_dead() if self.compact_dead else None

    def _drop_dead(self) -> np.ndarray:
        keep = self.alive.copy()
        gone = self.ids[~keep]
        self._final_frames[gone] = self.died_at[~keep]
        self._final_pipes[gone] = self.pipes[~keep]
        self._final_miss[gone] = self.miss[~keep]
        for name in self._PER_BIRD:
            setattr(self, name, getattr(self, name)[keep])
        return keep

    def frames_all(self) -> np.ndarray:
        """Frames survived by every row (index = bird id)."""
        out = self._final_frames.copy()
        out[self.ids] = self.frames
        return out

    def miss_all(self) -> np.ndarray:
        """How far (px) from the gap's centre each row was when it died (0 if it did not)."""
        out = self._final_miss.copy()
        out[self.ids] = self.miss
        return out

    def pipes_all(self) -> np.ndarray:
        """Pipes passed by every row (index = bird id)."""
        out = self._final_pipes.copy()
        out[self.ids] = self.pipes
        return out
