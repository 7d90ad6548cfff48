"""The frozen settings dataclasses of the runs, read back from a checkpoint and changed on resume.

A checkpoint stores a config as plain values (``to_dict``); :func:`settings_from_dict` turns
them back into the dataclass, and :func:`settings_for_resume` applies what a user typed when
resuming: the settings in ``resumable`` (a budget, a device) take their new value, any other
must equal the saved one, because the saved state is only valid for the settings that made it.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, TypeVar

from neuroplay.common.errors import UserError, check

T = TypeVar("T")


def settings_from_dict(cls: type[T], d: dict[str, Any], what: str, tuples: tuple[str, ...] = ()) -> T:
    """``cls(**d)`` with the fields named in ``tuples`` made tuples again (JSON and checkpoints keep
    lists); unknown or ill-typed settings are a :class:`UserError` naming ``what`` settings."""
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    check(not unknown, f"unknown {what} settings: {', '.join(sorted(unknown))}")
    values = {**d, **{name: tuple(d[name]) for name in tuples if isinstance(d.get(name), list | tuple)}}
    try:
        return cls(**values)
    except TypeError as exc:
        raise UserError(f"invalid {what} settings ({exc})") from None


def settings_for_resume(saved: T, overrides: dict[str, Any], resumable: frozenset[str], what: str) -> T:
    """``saved`` with ``overrides``: a setting in ``resumable`` takes its new value, any other must
    equal its saved value (else a :class:`UserError` saying so)."""
    unknown = set(overrides) - {f.name for f in fields(saved)}
    check(not unknown, f"unknown {what} settings: {', '.join(sorted(unknown))}")
    new = replace(saved, **overrides)
    for name in sorted(set(overrides) - resumable):
        old = getattr(saved, name)
        check(getattr(new, name) == old, f"{name} cannot change when resuming a run (it was saved as {old!r})")
    return new
