"""What a checkpoint must hold, declared as a table of rules, and the one validator that checks it.

A checkpoint's kind tag and checksum say who wrote it and that it arrived whole, not that its
insides make sense: a file written by anyone with :func:`~neuroplay.common.checkpoint.save_checkpoint`
(or an older file without a checksum) may hold a genome of the wrong length, a NaN weight, an
action the environment does not have or a counter that is a string. Each kind of checkpoint
therefore declares, beside the code that writes it, a schema: its keys, each with a rule (a
tensor's dtype and shape, an integer's range, a list of dicts). :func:`validate` checks a file
against it before any of it is used (the settings first: they pass the same bounds and memory
estimate as the command line's before a network or buffer is built), so bad contents are one
:class:`UserError` that names the file and the value, never an exception deep inside training.

Shapes name sizes (``Tensor(torch.float32, ("rows", "obs_shape"))``): the loader fills ``dims`` with the
sizes it knows (from the file's validated settings, the environment), and the first value that
shows an unknown size binds it, so every later use must agree (the replay's ``size`` binds
``rows``, then its ``obs`` tensor must have that many). A size may also be a function of the
sizes bound so far (a genome's length from its layer sizes).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from neuroplay.common.errors import UserError

Dims = dict[str, Any]  # size name -> an int, a tuple of ints (a shape), a dtype or a template value
Size = int | str | Callable[[Dims], int]


class Invalid(Exception):
    """A value that breaks its rule; the message names the value (``replay.action``) and says how."""


def validate(path: str | os.PathLike[str], data: Mapping, schema: Dict, dims: Dims | None = None) -> None:
    """Check ``data`` (a loaded checkpoint) against ``schema``, with the sizes ``dims`` known
    beforehand. Raises :class:`UserError` naming ``path`` and the first value that breaks its rule."""
    try:
        schema.check(data, "", dict(dims or {}))
    except Invalid as exc:
        raise UserError(f"{path}: {exc}") from None


def _name(at: str) -> str:
    return at or "the checkpoint"


def _size(size: Size, dims: Dims) -> Any:
    return size(dims) if callable(size) else dims.get(size, size) if isinstance(size, str) else size


def _bind(name: str | None, value: Any, at: str, dims: Dims) -> None:
    """Bind ``name`` to ``value``, or check it against the value bound before."""
    if name is None:
        return
    if name in dims and dims[name] != value:
        raise Invalid(f"{_name(at)} is {value!r}, expected {dims[name]!r}")
    dims[name] = value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Rule:
    """One value's rule: :meth:`check` raises :class:`Invalid` or returns quietly."""

    def check(self, value: Any, at: str, dims: Dims) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Int(Rule):
    """An integer (not a bool) in ``lo..hi`` (a bound may name a size); ``index_of``: in 0..size-1."""

    lo: Size = 0
    hi: Size = 10**12
    index_of: str | None = None
    bind: str | None = None

    def check(self, value: Any, at: str, dims: Dims) -> None:
        if not _is_int(value):
            raise Invalid(f"{_name(at)} must be an integer, not {type(value).__name__}")
        lo, hi = _size(self.lo, dims), _size(self.hi, dims)
        if self.index_of is not None:
            lo, hi = 0, _size(self.index_of, dims) - 1
        if not lo <= value <= hi:
            raise Invalid(f"{_name(at)} is {value}, outside {lo}..{hi}")
        _bind(self.bind, value, at, dims)


@dataclass(frozen=True)
class Real(Rule):
    """A number (an int will do) in ``[lo, hi]``; an infinite bound admits that infinity; ``nan``: NaN too."""

    lo: float = -1e12
    hi: float = 1e12
    nan: bool = False

    def check(self, value: Any, at: str, dims: Dims) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"{_name(at)} must be a number, not {type(value).__name__}")
        if math.isnan(value) and self.nan:
            return
        if not self.lo <= value <= self.hi:  # NaN fails here too
            raise Invalid(f"{_name(at)} is {value!r}, outside [{self.lo:g}, {self.hi:g}]")


@dataclass(frozen=True)
class Bool(Rule):
    def check(self, value: Any, at: str, dims: Dims) -> None:
        if not isinstance(value, bool):
            raise Invalid(f"{_name(at)} must be true or false, not {type(value).__name__}")


@dataclass(frozen=True)
class Str(Rule):
    """A string, one of ``choices`` when given."""

    choices: tuple[str, ...] | None = None

    def check(self, value: Any, at: str, dims: Dims) -> None:
        if not isinstance(value, str) or (self.choices is not None and value not in self.choices):
            raise Invalid(f"{_name(at)} is {str(value)[:40]!r}, expected {self.choices or 'a string'}")


@dataclass(frozen=True)
class Either(Rule):
    """Any one of ``rules`` (``None`` among them: the value may be None)."""

    rules: tuple[Rule | None, ...]

    def check(self, value: Any, at: str, dims: Dims) -> None:
        if value is None and None in self.rules:
            return
        errors = []
        for rule in self.rules:
            if rule is None:
                continue
            trial = dict(dims)  # a failed alternative must not leave its bindings behind
            try:
                rule.check(value, at, trial)
            except Invalid as exc:
                errors.append(str(exc))
                continue
            dims.update(trial)
            return
        raise Invalid(errors[0] if len(errors) == 1 else " / ".join(errors))


def Opt(rule: Rule) -> Either:  # noqa: N802 (reads as a rule, like the classes)
    """``rule``, or None."""
    return Either((rule, None))


@dataclass(frozen=True)
class List(Rule):
    """A list whose items follow ``item``; ``length`` (a size name binds it) or at most ``max_len``."""

    item: Rule
    length: Size | None = None
    max_len: Size = 10**8
    min_len: int = 0
    bind: str | None = None  # the list, as a tuple

    def check(self, value: Any, at: str, dims: Dims) -> None:
        if not isinstance(value, list):
            raise Invalid(f"{_name(at)} must be a list, not {type(value).__name__}")
        hi = _size(self.max_len, dims)
        if not self.min_len <= len(value) <= hi:
            raise Invalid(f"{_name(at)} has {len(value)} items, expected {self.min_len}..{hi}")
        if isinstance(self.length, str):
            _bind(self.length, len(value), f"the length of {_name(at)}", dims)
        elif self.length is not None and len(value) != _size(self.length, dims):
            raise Invalid(f"{_name(at)} has {len(value)} items, expected {_size(self.length, dims)}")
        for i, item in enumerate(value):
            self.item.check(item, f"{at}[{i}]", dims)
        _bind(self.bind, tuple(value), at, dims)


@dataclass(frozen=True)
class Tuple(Rule):
    """A tuple (or list) of exactly these items."""

    items: tuple[Rule, ...]

    def check(self, value: Any, at: str, dims: Dims) -> None:
        if not isinstance(value, tuple | list) or len(value) != len(self.items):
            raise Invalid(f"{_name(at)} must be {len(self.items)} values")
        for i, (item, rule) in enumerate(zip(value, self.items, strict=True)):
            rule.check(item, f"{at}[{i}]", dims)


Predicate = Callable[[Any, Dims], bool]


@dataclass(frozen=True)
class Dict(Rule):
    """A dict holding every key of ``fields`` (more keys are ignored), checked in order; then each
    ``checks`` entry, ``(predicate(value, dims), message)``, ties the fields together."""

    fields: Mapping[str, Rule]
    checks: tuple[tuple[Predicate, str], ...] = ()

    def check(self, value: Any, at: str, dims: Dims) -> None:
        if not isinstance(value, Mapping):
            raise Invalid(f"{_name(at)} must be a dict, not {type(value).__name__}")
        missing = [key for key in self.fields if key not in value]
        if missing:
            raise Invalid(f"{_name(at)} has no {', '.join(missing)}")
        for key, rule in self.fields.items():
            rule.check(value[key], f"{at}.{key}" if at else key, dims)
        for predicate, message in self.checks:
            if not predicate(value, dims):
                raise Invalid(f"{_name(at)}: {message}")


def _dtype(dtype: torch.dtype | str, dims: Dims) -> torch.dtype:
    return dims[dtype] if isinstance(dtype, str) else dtype


def _chunks(t: torch.Tensor, size: int = 1 << 24):
    """``t`` flattened, in pieces: a check on a replay memory of gigabytes needs only megabytes more."""
    flat = t.reshape(-1)
    return (flat[i : i + size] for i in range(0, flat.numel(), size))


def _finite(t: torch.Tensor, at: str) -> None:
    if (t.is_floating_point() or t.is_complex()) and not all(bool(torch.isfinite(c).all()) for c in _chunks(t)):
        raise Invalid(f"{_name(at)} holds NaN or infinite values")


@dataclass(frozen=True)
class Tensor(Rule):
    """A tensor of ``dtype`` (or the dtype a size name holds) and ``shape``: each entry an int, a
    size name (a name bound to a shape stands for all its axes) or a function of the sizes.
    Floating values must be finite (``finite``) and in ``[lo, hi]``; ``index_of``: integers in 0..size-1."""

    dtype: torch.dtype | str
    shape: tuple[Size, ...]
    finite: bool = True
    lo: float | None = None
    hi: float | None = None
    index_of: str | None = None

    def check(self, value: Any, at: str, dims: Dims) -> None:
        if not isinstance(value, torch.Tensor):
            raise Invalid(f"{_name(at)} must be a tensor, not {type(value).__name__}")
        dtype = _dtype(self.dtype, dims)
        if value.dtype != dtype:
            raise Invalid(f"{_name(at)} is {value.dtype}, expected {dtype}")
        expected: list[int | str] = []
        for entry in self.shape:
            size = _size(entry, dims)
            expected.extend(size if isinstance(size, tuple) else [size])
        if value.dim() != len(expected):
            raise Invalid(f"{_name(at)} has shape {tuple(value.shape)}, expected {len(expected)} axes")
        for axis, (got, want) in enumerate(zip(value.shape, expected, strict=True)):
            if isinstance(want, str):  # a size seen here first
                dims[want] = got
            elif got != want:
                shown = tuple(int(w) if not isinstance(w, str) else dims[w] for w in expected)
                raise Invalid(f"{_name(at)} has shape {tuple(value.shape)}, expected {shown} (axis {axis})")
        if self.finite:
            _finite(value, at)
        lo, hi = self.lo, self.hi
        if self.index_of is not None:
            lo, hi = 0, _size(self.index_of, dims) - 1
        if lo is not None and any(bool((c < lo).any()) for c in _chunks(value)):
            raise Invalid(f"{_name(at)} holds values below {lo}")
        if hi is not None and any(bool((c > hi).any()) for c in _chunks(value)):
            raise Invalid(f"{_name(at)} holds values above {hi}")


@dataclass(frozen=True)
class Weights(Rule):
    """Finite tensors of ``dtype`` with exactly the shapes ``dims[shapes]`` lists: a dict of name ->
    shape (a network's state dict: the same names) or a list of shapes (an optimiser's tensors, one
    per parameter, in order). The shapes come from validated settings, so a file is judged before
    the network it describes is built."""

    shapes: str
    dtype: torch.dtype = torch.float32

    def check(self, value: Any, at: str, dims: Dims) -> None:
        shapes = dims[self.shapes]
        if isinstance(shapes, Mapping):
            if not isinstance(value, Mapping) or set(value) != set(shapes):
                got = sorted(map(str, value)) if isinstance(value, Mapping) else type(value).__name__
                raise Invalid(f"{_name(at)} holds {str(got)[:120]}, expected {sorted(shapes)}"[:300])
            items = [(f"{at}.{k}", value[k], shapes[k]) for k in shapes]
        else:
            if not isinstance(value, list | tuple) or len(value) != len(shapes):
                got = f"{len(value)} items" if isinstance(value, list | tuple) else f"a {type(value).__name__}"
                raise Invalid(f"{_name(at)} holds {got}, expected {len(shapes)} tensors")
            items = [(f"{at}[{i}]", v, shape) for i, (v, shape) in enumerate(zip(value, shapes, strict=True))]
        for where, v, shape in items:
            Tensor(self.dtype, tuple(shape)).check(v, where, dims)


@dataclass(frozen=True)
class Switch(Rule):
    """The rule of ``rules`` that ``dims[key]`` names (an optimiser's state by its kind)."""

    key: str
    rules: Mapping[str, Rule]

    def check(self, value: Any, at: str, dims: Dims) -> None:
        self.rules[dims[self.key]].check(value, at, dims)


@dataclass(frozen=True)
class Like(Rule):
    """The same structure as the template value ``dims[template]`` (what a fresh network, optimiser
    or environment of the file's own settings would save): the same keys, lengths, tensor dtypes and
    shapes, string values, number and flag types (a number where the template has None); floating
    values finite when ``finite``."""

    template: str = ""  # empty: only compare() against a template at hand
    finite: bool = True
    loose: tuple[str, ...] = ()  # keys whose values need only be dicts (checked by their reader)

    def check(self, value: Any, at: str, dims: Dims) -> None:
        self.compare(value, dims[self.template], at)

    def compare(self, value: Any, like: Any, at: str) -> None:
        """Check ``value`` (named ``at``) against the template value ``like`` itself."""
        if at.rpartition(".")[2] in self.loose:
            if not isinstance(value, Mapping):
                raise Invalid(f"{_name(at)} must be a dict, not {type(value).__name__}")
        elif isinstance(like, torch.Tensor):
            if not isinstance(value, torch.Tensor):
                raise Invalid(f"{_name(at)} must be a tensor, not {type(value).__name__}")
            if value.dtype != like.dtype or value.shape != like.shape:
                raise Invalid(
                    f"{_name(at)} is {value.dtype} {tuple(value.shape)}, expected {like.dtype} {tuple(like.shape)}"
                )
            if self.finite:
                _finite(value, at)
        elif isinstance(like, Mapping) and "bit_generator" in like:
            RNG.check(value, at, {})  # a NumPy generator's state: only the generator can tell if it takes it
        elif isinstance(like, Mapping):
            if not isinstance(value, Mapping) or set(value) != set(like):
                got = sorted(map(str, value)) if isinstance(value, Mapping) else type(value).__name__
                raise Invalid(f"{_name(at)} holds {str(got)[:120]}, expected {sorted(map(str, like))}"[:300])
            for key in like:
                self.compare(value[key], like[key], f"{at}.{key}" if at else str(key))
        elif isinstance(like, list | tuple):
            if not isinstance(value, list | tuple) or len(value) != len(like):
                got = f"{len(value)} items" if isinstance(value, list | tuple) else f"a {type(value).__name__}"
                raise Invalid(f"{_name(at)} holds {got}, expected {len(like)}")
            for i, (v, w) in enumerate(zip(value, like, strict=True)):
                self.compare(v, w, f"{at}[{i}]")
        elif isinstance(like, bool):  # a flag may have flipped since (an episode ended)
            if not isinstance(value, bool):
                raise Invalid(f"{_name(at)} must be true or false, not {type(value).__name__}")
        elif like is None or isinstance(like, str):  # a tag or a mode: it decides how the value is read
            if value != like and not (like is None and (value is None or isinstance(value, int | float))):
                raise Invalid(f"{_name(at)} is {str(value)[:40]!r}, expected {like!r}")
        elif isinstance(like, int | float):
            kinds = (int,) if isinstance(like, int) else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise Invalid(f"{_name(at)} must be {'an integer' if kinds == (int,) else 'a number'}")
            if self.finite and not math.isfinite(value):
                raise Invalid(f"{_name(at)} is {value!r}")


@dataclass(frozen=True)
class Check(Rule):
    """A value that ``accept`` takes without raising (a random generator's state: only the generator
    can tell); ``what`` names what it should be."""

    accept: Callable[[Any], Any]
    what: str

    def check(self, value: Any, at: str, dims: Dims) -> None:
        try:
            self.accept(value)
        except Exception:  # whatever the generator raises, the value is not a state it can take
            raise Invalid(f"{_name(at)} is not {self.what}") from None


def numpy_rng_state(state: Any) -> None:
    """Raise unless ``state`` is a state NumPy's default generator (PCG64) can take."""
    import numpy as np

    if not isinstance(state, Mapping):
        raise TypeError("not a dict")
    np.random.default_rng(0).bit_generator.state = state


def torch_rng_state(state: Any) -> None:
    """Raise unless ``state`` is a state torch's CPU generator can take (tried on a scratch generator)."""
    if not isinstance(state, torch.Tensor) or state.dtype != torch.uint8:
        raise TypeError("not a uint8 tensor")
    torch.Generator().set_state(state)


RNG = Check(numpy_rng_state, "a NumPy random generator's state")
TORCH_RNG = Check(torch_rng_state, "a torch random generator's state")
