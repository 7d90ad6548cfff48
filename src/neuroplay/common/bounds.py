"""Bounds on the numbers a user gives, and on the memory they would take.

Every numeric setting goes through :func:`in_range`: NaN and infinity are refused, and so is
anything outside a range a laptop can run (a seed of 2**64, 10**30 threads, a budget that would
run for centuries), with a message that names the setting and its range. Where a combination of
settings decides the memory (replay buffer × observation size, population × network size, image
size × layers), the part estimates the bytes and :func:`check_fits` refuses a run that would not
fit, naming the largest value that would, before anything is allocated. Importing this module
costs no torch or NumPy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING

from neuroplay.common.errors import UserError

if TYPE_CHECKING:
    import torch

SEED_MAX = 2**32 - 1  # NumPy's legacy seeding and gymnasium's reset(seed=) take 0..2**32-1
THREADS_MAX = 256  # more torch threads than any laptop (or most servers) has cores


def in_range(name: str, value: float | None, lo: float, hi: float, *, open_lo: bool = False) -> None:
    """Raise :class:`UserError` unless ``value`` is a finite number in ``[lo, hi]`` (``(lo, hi]``
    with ``open_lo``); integer bounds ask for an integer. ``None`` passes (an optional setting left
    unset). ``name`` is the setting as the user knows it (``--seed``, ``buffer_size``)."""
    if value is None:
        return
    integer = isinstance(lo, int) and isinstance(hi, int)
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise UserError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    below = value <= lo if open_lo else value < lo
    if (not integer and not math.isfinite(value)) or below or value > hi:
        if integer:
            allowed = f"an integer in {lo + 1 if open_lo else lo}..{hi}"
        else:
            allowed = f"a number in {'(' if open_lo else '['}{lo:g}, {hi:g}]"
        raise UserError(f"{name} must be {allowed}, got {value!r}")


def check_seed(seed: int, name: str = "seed") -> int:
    """``seed`` if it is in 0..:data:`SEED_MAX` (what NumPy, torch and gymnasium all accept)."""
    in_range(name, seed, 0, SEED_MAX)
    return seed


def check_threads(threads: int | None, name: str = "threads") -> int | None:
    """``threads`` (or ``None``: the default) if it is in 1..:data:`THREADS_MAX`."""
    in_range(name, threads, 1, THREADS_MAX)
    return threads


def available_memory(device: torch.device | None = None) -> int | None:
    """Free memory in bytes: a CUDA ``device``'s, else the machine's MemAvailable; None if unknown."""
    if device is not None and device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return None


def largest_that_fits(need: Callable[[int], int], hi: int, limit: int) -> int:
    """The largest ``n`` in 0..``hi`` with ``need(n) <= limit`` (``need`` grows with ``n``; 0 when none)."""
    lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if need(mid) <= limit:
            lo = mid
        else:
            hi = mid
    return lo


def check_fits(what: str, need: int, option: str, value: int, bytes_for: Callable[[int], int]) -> None:
    """Refuse a run whose estimated peak ``need`` (bytes) is more than the memory available, naming
    the largest ``option`` that would fit (``bytes_for(n)``: the estimate with ``option`` set to
    ``n``, the other settings as given; ``value``: its value now)."""
    limit = available_memory()
    if limit is None or need <= limit:
        return
    largest = largest_that_fits(bytes_for, value, limit)
    fits = f"the largest {option} that fits is {largest}" if largest >= 1 else f"no {option} fits the other settings"
    raise UserError(
        f"{what} needs about {need / 2**30:.1f} GB but {limit / 2**30:.1f} GB of memory is available; {fits}"
    )
