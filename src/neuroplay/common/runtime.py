"""Where and how a network runs: the device, the precision, torch's thread count, notes for the user.

Every part asks here, so ``--device``, ``--precision`` and ``--threads`` mean the same thing in
every command. torch is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from neuroplay.common.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")

Notify = Callable[[str], None]


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else the CPU; ``cuda`` without a GPU is a :class:`UserError`."""
    import torch

    if name not in DEVICES:
        raise UserError(f"device must be one of {', '.join(DEVICES)}, not {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA device is available")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where ``device`` computes bfloat16 natively, else ``fp32``.

    Native means a CUDA GPU with bfloat16 support, or a CPU with AVX512-BF16 or AMX. Elsewhere
    bfloat16 is emulated and slower than float32, so ``auto`` keeps float32. On this project's
    2-core AMD EPYC (Zen 4) a bfloat16 VGG evaluation costs 0.55-0.6 of a float32 one.
    """
    if name not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, not {name!r}")
    if name != "auto":
        return name
    if device.type == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), as torch's cpuinfo sees it."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def default_threads() -> int:
    """torch's own thread count, but no more than the CPUs this process may run on."""
    import torch

    threads = torch.get_num_threads()
    if hasattr(os, "sched_getaffinity"):
        threads = min(threads, len(os.sched_getaffinity(0)))
    return max(1, threads)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``threads`` torch CPU threads (``None``: :func:`default_threads`),
    then put back the count that was set before. Yields the count in force."""
    import torch

    previous = torch.get_num_threads()
    count = threads if threads is not None else default_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(previous)


def notify(callback: Notify | None, message: str) -> None:
    """Tell the user ``message``: through ``callback`` when given (the CLI prints it, the studio
    shows it), else as a :class:`RuntimeWarning` pointing at the library's caller."""
    if callback is not None:
        callback(message)
    else:
        warnings.warn(message, RuntimeWarning, stacklevel=3)
