"""Ray, the optional extra that spreads work over processes or machines: imported and connected here.

Both parts that use it (evolution's evaluation, a style network over a folder) connect the same
way: ``local`` (or nothing) starts a fresh, quiet instance on this machine; ``auto``, ``HOST:PORT``
or ``ray://HOST:PORT`` joins a running cluster, after a quick check that the address answers (Ray
itself retries an unreachable address for minutes). An instance the caller started is used as is.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from neuroplay.common.errors import UserError


def import_ray():
    """The ``ray`` module, or a :class:`UserError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs the optional Ray extra: pip install 'neuroplay[ray]'") from None
    return ray


def connect(ray, address: str | None, workers: int | None) -> bool:
    """Connect ``ray`` to ``address`` (see the module docstring); whether this call started it."""
    if ray.is_initialized():  # e.g. the caller started Ray already: use that instance
        return False
    local = address in (None, "local")
    kwargs: dict[str, Any] = dict(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    kwargs["logging_level"] = logging.WARNING
    if local:  # a fresh, quiet instance on this machine
        kwargs.update(address="local", num_cpus=workers or os.cpu_count() or 1)
    else:
        if address != "auto":
            check_reachable(address)
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        where = "a local Ray instance" if local else f"the Ray cluster at {address}"
        raise UserError(f"cannot connect to {where}: {reason}") from None
    return True


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse (:class:`UserError`) a cluster address that is malformed or does not answer within ``timeout``."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    host = host.strip("[]")  # [IPv6]:port
    if not host or not port.isdigit():
        raise UserError(f"Ray address must be 'local', 'auto', HOST:PORT or ray://HOST:PORT, not {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UserError(f"cannot connect to the Ray cluster at {address}: {exc.strerror or exc}") from None
