"""Pictures of the Flappy Bird world: frames (NumPy + Pillow), GIF/MP4 recordings, a live window.

Everything is drawn from shapes, no image assets. Off-screen drawing needs only NumPy and
Pillow; pygame is imported only by :class:`Window` (the live window).

A *policy* is ``policy(obs, ids) -> flaps``: ``obs`` holds :meth:`World.observe` rows of
the birds still flying, ``ids`` their population indices, and it returns one bool per row.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from neuroplay.common.errors import UserError
from neuroplay.common.video import check_recording, video_suffix, write_video
from neuroplay.evo.flappy.world import PHYS, Course, Physics, World

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]

SKY, CLOUD = (113, 197, 207), (200, 235, 230)
PIPE, PIPE_LIGHT, PIPE_DARK = (116, 191, 46), (160, 226, 90), (60, 96, 26)  # body, highlight, rim
GRASS, GRASS_DARK = (115, 190, 46), (90, 160, 38)
SAND, SAND_EDGE = (222, 216, 149), (170, 150, 90)
BIRD, BEAK, INK = (250, 206, 50), (240, 110, 40), (84, 56, 71)  # INK: outlines and text
GAP = 8  # pixels between the panels of a comparison
GAP_COLOR = (30, 30, 30)


# --- one frame ------------------------------------------------------------------------------------


def _fill(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color) -> None:
    h, w = img.shape[:2]
    x0, x1 = max(0, int(x0)), min(w, int(x1))
    y0, y1 = max(0, int(y0)), min(h, int(y1))
    if x0 < x1 and y0 < y1:
        img[y0:y1, x0:x1] = color


def _pipe_part(img: np.ndarray, x: int, y0: float, y1: float, cap_y: float, p: Physics) -> None:
    """A pipe from ``y0`` to ``y1``; its 24 px cap (full collision width) starts at ``cap_y``."""
    _fill(img, x + 2, y0, x + p.pipe_w - 2, y1, PIPE_DARK)
    _fill(img, x + 4, y0, x + p.pipe_w - 4, y1, PIPE)
    _fill(img, x + 8, y0, x + 14, y1, PIPE_LIGHT)
    _fill(img, x, cap_y, x + p.pipe_w, cap_y + 24, PIPE_DARK)
    _fill(img, x + 2, cap_y + 2, x + p.pipe_w - 2, cap_y + 22, PIPE)
    _fill(img, x + 6, cap_y + 2, x + 12, cap_y + 22, PIPE_LIGHT)


@functools.lru_cache(maxsize=4)
def _background(p: Physics) -> np.ndarray:
    img = np.empty((p.screen_h, p.screen_w, 3), dtype=np.uint8)
    img[:] = SKY
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    for i in range(0, p.screen_w + 40, 38):  # a row of clouds above the ground
        draw.ellipse([i - 30, p.ground_y - 70 - (i * 7) % 23, i + 30, p.ground_y + 10], fill=CLOUD)
    img = np.asarray(pil).copy()
    _fill(img, 0, p.ground_y, p.screen_w, p.screen_h, SAND)
    return img


def _ground(img: np.ndarray, frame: int, p: Physics) -> None:
    top = int(p.ground_y)
    _fill(img, 0, top, p.screen_w, top + 12, GRASS)
    # slanted stripes that scroll with the pipes, so the ground visibly moves
    cols = (np.arange(p.screen_w) + frame * p.pipe_speed) % 24
    for r in range(2, 10):
        row = img[top + r]
        row[((cols + r) % 24) < 10] = GRASS_DARK
    _fill(img, 0, top, p.screen_w, top + 2, PIPE_DARK)
    _fill(img, 0, top + 12, p.screen_w, top + 15, SAND_EDGE)


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text(draw: ImageDraw.ImageDraw, xy, text: str, size: int, fill=(255, 255, 255), anchor="mt", stroke=True):
    draw.text(
        xy,
        text,
        font=_font(size),
        fill=fill,
        anchor=anchor,
        stroke_width=max(1, size // 8) if stroke else 0,
        stroke_fill=(0, 0, 0),
    )


def _birds(img: np.ndarray, world: World, show: np.ndarray, colors: np.ndarray | None) -> np.ndarray:
    p = world.phys
    idx = np.flatnonzero(show)
    if len(idx) == 0:
        return img
    body = np.tile(np.array(BIRD, dtype=np.int64), (len(idx), 1))
    if colors is not None:
        body = np.asarray(colors, dtype=np.int64)[world.ids[idx]].reshape(len(idx), 3)
    ys = np.round(world.y[idx]).astype(np.int64)
    # birds at the same height in the same colour look alike: draw each such group once
    groups = np.unique(np.column_stack([ys, body]), axis=0)
    alpha = 255 if len(idx) == 1 else 150
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil, "RGBA")
    x = p.bird_x
    for y, *rgb in groups.tolist():
        edge = tuple(int(c * 0.6) for c in rgb)
        draw.rounded_rectangle(
            [x, y, x + p.bird_w - 1, y + p.bird_h - 1], radius=9, fill=(*rgb, alpha), outline=(*edge, alpha), width=2
        )
        draw.ellipse([x + 3, y + 10, x + 15, y + 18], fill=(255, 255, 255, alpha // 2))  # wing
        draw.ellipse([x + 19, y + 2, x + 30, y + 13], fill=(255, 255, 255, alpha), outline=(0, 0, 0, alpha))
        draw.ellipse([x + 24, y + 5, x + 28, y + 10], fill=(0, 0, 0, alpha))
        draw.rounded_rectangle([x + 24, y + 14, x + p.bird_w + 2, y + 20], radius=3, fill=(*BEAK, alpha))
    return np.asarray(pil)


def draw_frame(
    world: World,
    generation: int | None = None,
    label: str | None = None,
    colors: np.ndarray | None = None,
    scale: float = 1.0,
    show: np.ndarray | None = None,
) -> np.ndarray:
    """The world now as an ``H×W×3`` uint8 image (512×288 at ``scale`` 1).

    ``colors``: optional ``(population, 3)`` RGB per bird, indexed by ``world.ids``. ``show``:
    which of the world's birds to draw (default: the living; dead birds are not drawn). Many
    birds are drawn half-transparent, so a crowd shows where most of them fly. The overlay
    shows ``label`` and the score (pipes) at the top, the generation and birds alive below.
    """
    if scale <= 0:
        raise UserError(f"scale must be positive, not {scale}")
    p = world.phys
    img = _background(p).copy()
    for x, gap in world.course.visible(world.frame, p.screen_w):
        _pipe_part(img, x, 0, gap, gap - 24, p)
        _pipe_part(img, x, gap + p.gap, p.ground_y, gap + p.gap, p)
    _ground(img, world.frame, p)
    img = _birds(img, world, world.alive if show is None else np.asarray(show, dtype=bool), colors)

    pil = Image.fromarray(img)
    if scale != 1.0:
        size = (max(1, round(p.screen_w * scale)), max(1, round(p.screen_h * scale)))
        pil = pil.resize(size, Image.Resampling.BILINEAR)
    s = max(scale, 0.7)  # text stays readable in small frames
    draw = ImageDraw.Draw(pil)
    w, h = pil.size
    top = round(6 * s)
    if label:
        _text(draw, (w // 2, top), label, round(15 * s))
        top += round(20 * s)
    pipes = world.pipes[world.alive] if world.n_alive else world.pipes_all()
    _text(draw, (w // 2, top), str(int(pipes.max(initial=0))), round(36 * s))
    status = [] if generation is None else [f"gen {generation}"]
    if world.n > 1:
        status.append(f"alive {world.n_alive}/{world.n}")
    if status:
        ground_mid = (p.ground_y + 15 + p.screen_h) / 2 * (h / p.screen_h)
        _text(draw, (w // 2, ground_mid), "   ".join(status), round(16 * s), fill=INK, anchor="mm", stroke=False)
    return np.asarray(pil)


def stamp(frame: np.ndarray, text: str, height: float = 0.42) -> np.ndarray:
    """``frame`` with ``text`` written large across it at ``height`` (a fraction of the frame)."""
    pil = Image.fromarray(frame)
    _text(ImageDraw.Draw(pil), (pil.width // 2, pil.height * height), text, max(12, pil.width // 7), anchor="mm")
    return np.asarray(pil)


def side_by_side(frames: Sequence[np.ndarray], gap: int = GAP) -> np.ndarray:
    """Panels of equal height joined left to right with ``gap`` dark pixels between them."""
    h = frames[0].shape[0]
    divider = np.empty((h, gap, 3), dtype=np.uint8)
    divider[:] = GAP_COLOR
    parts: list[np.ndarray] = []
    for i, f in enumerate(frames):
        parts += [divider, f] if i else [f]
    return np.concatenate(parts, axis=1)


# --- flights and recordings ------------------------------------------------------------------------


class _Flight:
    """Birds flying a course under a policy, drawn on demand. After the last bird dies the
    birds of the final frame stay visible where they crashed."""

    def __init__(self, policy: Policy | None, n: int, course: Course | int, draw_kw: dict[str, Any]):
        self.policy, self.draw_kw = policy, draw_kw
        self.world = World(n, course, compact=False)  # keeps dead birds' positions for the crash frame
        self.shown = self.world.alive.copy()

    @property
    def over(self) -> bool:
        return self.world.n_alive == 0

    def step(self, flap: np.ndarray | None = None) -> None:
        w = self.world
        live = w.alive.copy()
        if flap is None:
            flap = np.zeros(w.n, dtype=bool)
            decided = np.asarray(self.policy(w.observe()[live], w.ids[live]), dtype=bool).reshape(-1)
            if decided.shape != (int(live.sum()),):
                raise UserError(f"the policy returned {decided.size} decisions for {int(live.sum())} birds")
            flap[live] = decided
        w.step(flap)
        self.shown = w.alive.copy() if w.n_alive else live

    def draw(self) -> np.ndarray:
        frame = draw_frame(self.world, show=self.shown, **self.draw_kw)
        return stamp(frame, "crashed") if self.over else frame

    @property
    def best_pipes(self) -> int:
        return int(self.world.pipes_all().max())


def check_settings(path, max_frames: int, fps: float, frame_skip: int, scale: float, panels: int = 1) -> str:
    """The video suffix of ``path``, once the recording settings are known to be in range and to fit
    in memory (``panels`` side by side); else a :class:`UserError`, before anything is played."""
    check_recording(fps, frame_skip, scale, max_frames, (PHYS.screen_h, PHYS.screen_w * panels))
    return video_suffix(path)


def record(
    policy: Policy,
    course_seed: int,
    path: str | os.PathLike[str],
    n_birds: int = 1,
    max_frames: int = 1200,
    fps: float = 30,
    frame_skip: int = 2,
    scale: float = 0.5,
    generation: int | None = None,
    label: str | None = None,
    colors: np.ndarray | None = None,
) -> dict:
    """Fly ``n_birds`` birds under ``policy`` on course ``course_seed`` until all die or
    ``max_frames`` game frames pass, and save every ``frame_skip``-th frame (and the last)
    to ``path`` (.gif or .mp4).

    Returns ``{"frames": images written, "world_frames": game frames flown, "pipes": best
    bird's pipes, "path": path}``.
    """
    check_settings(path, max_frames, fps, frame_skip, scale)
    if n_birds < 1:
        raise UserError("n_birds must be >= 1")
    flight = _Flight(policy, n_birds, course_seed, dict(generation=generation, label=label, colors=colors, scale=scale))
    images = [flight.draw()]
    while not flight.over and flight.world.frame < max_frames:
        flight.step()
        if flight.world.frame % frame_skip == 0 or flight.over or flight.world.frame == max_frames:
            images.append(flight.draw())
    write_video(path, images, fps)
    return {"frames": len(images), "world_frames": flight.world.frame, "pipes": flight.best_pipes, "path": str(path)}


def population_policy(shape, genomes: np.ndarray) -> Policy:
    """A policy for :func:`record` with ``n_birds=len(genomes)``: each bird flies by its own
    network (``shape``, an :class:`~neuroplay.evo.population.MLPShape`), found by its id."""

    def act(obs: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return shape.flap(shape.unpack(genomes[ids]), obs)

    return act


class Panel(NamedTuple):
    """One contestant of :func:`record_comparison` (a plain ``(label, policy, generation)``
    tuple works too)."""

    label: str
    policy: Policy
    generation: int | None = None
    n_birds: int = 1
    colors: np.ndarray | None = None


def record_comparison(
    panels: Sequence[Panel | tuple],
    course_seed: int,
    path: str | os.PathLike[str],
    max_frames: int = 1200,
    fps: float = 30,
    frame_skip: int = 2,
    scale: float = 0.5,
) -> dict:
    """Fly several policies on the same course side by side (e.g. an early generation's whole
    population next to the final champion) into one recording. A panel whose birds have all
    crashed freezes on its last frame, marked "crashed", until the others end.

    Returns ``{"frames", "world_frames", "pipes": best pipes per panel, "path"}``.
    """
    check_settings(path, max_frames, fps, frame_skip, scale, len(panels))
    panels = [Panel(*p) for p in panels]
    if not panels or any(p.n_birds < 1 for p in panels):
        raise UserError("record_comparison needs at least one panel, each with n_birds >= 1")
    flights = [
        _Flight(
            p.policy, p.n_birds, course_seed, dict(generation=p.generation, label=p.label, colors=p.colors, scale=scale)
        )
        for p in panels
    ]
    last = [f.draw() for f in flights]
    images = [side_by_side(last)]
    frame = 0
    while not all(f.over for f in flights) and frame < max_frames:
        frame += 1
        for f in flights:
            if not f.over:
                f.step()
        ended = all(f.over for f in flights)
        if frame % frame_skip == 0 or ended or frame == max_frames:
            # a crashed panel was drawn (and stamped) on its last frame; keep showing that
            last = [f.draw() if f.world.frame == frame else old for f, old in zip(flights, last, strict=True)]
            images.append(side_by_side(last))
    write_video(path, images, fps)
    pipes = [f.best_pipes for f in flights]
    return {"frames": len(images), "world_frames": frame, "pipes": pipes, "path": str(path)}


# --- a live window ----------------------------------------------------------------------------------


class Window:
    """A pygame window showing frames at ``fps`` (pygame is imported only here)."""

    def __init__(self, width: int, height: int, title: str = "neuroplay", fps: float = 30):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # the library never prints
        import pygame

        pygame.display.init()
        self.pg, self.fps = pygame, fps
        self.screen = pygame.display.set_mode((width, height))
        pygame.display.set_caption(title)
        self.clock = pygame.time.Clock()

    def show(self, frame: np.ndarray) -> None:
        surface = self.pg.surfarray.make_surface(np.ascontiguousarray(frame.swapaxes(0, 1)))
        self.screen.blit(surface, (0, 0))
        self.pg.display.flip()
        self.clock.tick(self.fps)

    def events(self) -> list:
        return self.pg.event.get()

    def close(self) -> None:
        self.pg.display.quit()


def play_window(
    policy: Policy | None,
    course_seed: int,
    fps: float = 30,
    scale: float = 1.0,
    max_frames: int | None = None,
) -> list[int]:
    """Watch ``policy`` fly, or (``policy=None``) play yourself: space, up arrow or a click
    flaps (your bird waits for the first one). After a crash, space starts the next run on the
    next course (``course_seed`` + run number); Esc or closing the window quits. ``max_frames``
    ends the session after that many shown frames (for scripted use). Returns the pipes passed
    in each run.
    """
    if fps <= 0 or scale <= 0:
        raise UserError("fps and scale must be positive")
    p = PHYS
    win = Window(round(p.screen_w * scale), round(p.screen_h * scale), "neuroplay: Flappy Bird", fps)
    pg = win.pg
    look = dict(label="you" if policy is None else "AI", scale=scale)
    scores: list[int] = []
    flight = _Flight(policy, 1, course_seed, look)
    waiting = policy is None
    shown = 0
    try:
        while max_frames is None or shown < max_frames:
            flap = False
            for event in win.events():
                if event.type == pg.QUIT or (event.type == pg.KEYDOWN and event.key == pg.K_ESCAPE):
                    return scores + [flight.best_pipes]
                key = event.type == pg.KEYDOWN and event.key in (pg.K_SPACE, pg.K_UP)
                flap |= key or event.type == pg.MOUSEBUTTONDOWN
            if flight.over and flap:
                scores.append(flight.best_pipes)
                flight = _Flight(policy, 1, course_seed + len(scores), look)
                waiting = policy is None
            else:
                waiting &= not flap
                if not (waiting or flight.over):
                    flight.step(np.array([flap]) if policy is None else None)
            frame = flight.draw()
            if flight.over or waiting:
                frame = stamp(frame, "space: again" if flight.over else "space: flap", 0.55)
            win.show(frame)
            shown += 1
        return scores + [flight.best_pipes]
    finally:
        win.close()
