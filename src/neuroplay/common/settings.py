"""The frozen settings dataclasses of resumable runs: stored in a checkpoint, read back, changed on resume.

A config class mixes in :class:`RunSettings` and names ``RESUMABLE``, the settings a resumed run
may change (a budget, a device). :meth:`RunSettings.to_dict` gives the plain values a checkpoint
stores, :meth:`RunSettings.from_dict` reads them back, :meth:`RunSettings.for_resume` applies
what a user typed on resume (a setting outside ``RESUMABLE`` must keep its saved value, because
the saved state is only valid for the settings that made it), and :func:`load_run_checkpoint`
opens a run's checkpoint and checks it was written with the settings at hand.
"""

from __future__ import annotations

import os
import types
from dataclasses import asdict, fields, replace
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

from neuroplay.common.errors import UserError, about_file, check

S = TypeVar("S", bound="RunSettings")


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` (as a checkpoint stores it: lists for tuples) has the type ``hint`` names."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_fits(value, arg) for arg in get_args(hint))
    if origin is tuple:  # tuple[int, ...]
        return isinstance(value, list | tuple) and all(_fits(v, get_args(hint)[0]) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint)


class RunSettings:
    """Mixin for a frozen config dataclass that a run's checkpoint stores."""

    RESUMABLE: ClassVar[frozenset[str]] = frozenset()
    WHAT: ClassVar[str] = "run"  # names the settings in error messages ("unknown DQN settings: ...")

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, not tuples), as a checkpoint stores them."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls: type[S], d: dict[str, Any]) -> S:
        """The inverse of :meth:`to_dict`; unknown or ill-typed settings are a :class:`UserError`."""
        unknown = set(d) - {f.name for f in fields(cls)}
        check(not unknown, f"unknown {cls.WHAT} settings: {', '.join(sorted(unknown))}")
        # a file's settings may be anything (a seed of None, hidden sizes as a string): each must
        # have its field's type before __post_init__ judges its value, as the CLI's parsing ensures
        hints = get_type_hints(cls)
        for name, value in d.items():
            check(
                _fits(value, hints[name]), f"{cls.WHAT} setting {name} is {value!r:.60}, not {_type_name(hints[name])}"
            )
        try:
            return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
        except TypeError as exc:
            raise UserError(f"invalid {cls.WHAT} settings ({exc})") from None

    def for_resume(self: S, **overrides: Any) -> S:
        """These (saved) settings with ``overrides`` for a resumed run: a setting in ``RESUMABLE``
        takes its new value; any other must equal its saved value (else a :class:`UserError`)."""
        unknown = set(overrides) - {f.name for f in fields(self)}
        check(not unknown, f"unknown {self.WHAT} settings: {', '.join(sorted(unknown))}")
        new = replace(self, **overrides)
        for name in sorted(set(overrides) - self.RESUMABLE):
            old = getattr(self, name)
            check(getattr(new, name) == old, f"{name} cannot change when resuming a run (it was saved as {old!r})")
        return new


def load_run_checkpoint(
    path: str | os.PathLike[str], kind: str, version: int, cls: type[S], current: S | None = None
) -> tuple[dict, S]:
    """The checkpoint at ``path`` and the settings saved in it. With ``current``, the settings a
    run resumes with, those must be the saved ones but for ``cls.RESUMABLE`` (else a :class:`UserError`)."""
    from neuroplay.common.checkpoint import load_checkpoint  # torch: not for the CLI's defaults

    data = load_checkpoint(path, kind, version)
    check(isinstance(data.get("config"), dict), f"{path}: checkpoint has no valid config")
    with about_file(path):
        saved = cls.from_dict(data["config"])
    if current is not None and replace(saved, **{n: getattr(current, n) for n in cls.RESUMABLE}) != current:
        raise UserError(f"{path} was written with different settings; resume with the same ones")
    return data, saved
