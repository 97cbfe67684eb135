"""Frozen run configs, their field docs, and `--set key=value` overrides.

Every experiment's config subclasses `RunConfig`. A config is frozen so it can be written
into the run folder and cannot drift mid-run; the CLI builds a new one with `override`.
Configs validate themselves in `__post_init__` with `check` and `require`: explicit raises,
not `assert`, so `python -O` keeps them, and every message names the field, the value and
what it may be (`epochs must be >= 1, got 0`).
"""

import ast
import dataclasses
import inspect
import itertools
import json
import math
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from dlcurriculum.core.errors import DlcError

C = TypeVar("C", bound="RunConfig")


class ConfigError(DlcError):
    """A config value the experiment cannot run with: names the field, the value and the range."""


def require(ok: bool, message: str) -> None:
    """Raise ConfigError(message) unless `ok`: for relations between fields."""
    if not ok:
        raise ConfigError(message)


def check(
    cfg: object,
    *names: str,
    ge: int | float | None = None,  # int too: beartype (under pytest) does not widen int
    gt: int | float | None = None,
    le: int | float | None = None,
    lt: int | float | None = None,
) -> None:
    """Raise ConfigError unless each named field (each item of a tuple field, which must not be
    empty) is a number in the range: `check(self, "epochs", ge=1)`, `check(self, "dropout",
    ge=0, lt=1)`. Written so that nan fails every bound."""
    lows = [(b, ">=", "[") for b in [ge] if b is not None] + [
        (b, ">", "(") for b in [gt] if b is not None
    ]
    highs = [(b, "<=", "]") for b in [le] if b is not None] + [
        (b, "<", ")") for b in [lt] if b is not None
    ]
    if lows and highs:
        (lo, _, left), (hi, _, right) = lows[0], highs[0]
        allowed = f"in {left}{_fmt(lo)}, {_fmt(hi)}{right}"
    else:
        allowed = " and ".join(f"{op} {_fmt(b)}" for b, op, _ in lows + highs)
    for name in names:
        value = getattr(cfg, name)
        items = value if isinstance(value, (tuple, list)) else (value,)
        subject = f"every value of {name}" if items is value else name
        if not items:
            raise ConfigError(f"{name} must not be empty")
        for x in items:
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ConfigError(f"{subject} must be a number, got {value!r}")
            ok = (
                (ge is None or x >= ge)
                and (gt is None or x > gt)
                and (le is None or x <= le)
                and (lt is None or x < lt)
            )
            if not ok:
                raise ConfigError(f"{subject} must be {allowed}, got {_fmt(value)}")


def one_of(cfg: object, name: str, choices: typing.Iterable[object]) -> None:
    """Raise ConfigError unless the field (each item of a tuple field) is one of `choices`."""
    value = getattr(cfg, name)
    options = tuple(choices)
    for x in value if isinstance(value, (tuple, list)) else (value,):
        if x not in options:
            raise ConfigError(
                f"{name} must be one of {', '.join(map(str, options))}, got {_fmt(value)}"
            )


def _fmt(value: object) -> str:
    """A value as a user would type it: 0.001 not 0.0010000, nan, (1, 2)."""
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value) if isinstance(value, int) else repr(value)


@dataclass(frozen=True)
class RunConfig:
    """Fields every experiment has."""

    seed: int = 0
    """Random seed; the same seed on the same device gives the same metrics."""
    device: str = "auto"
    """cpu, cuda, or auto (cuda when available)."""
    impl: str = ""
    """Workspace folder with the learner's code to run instead of the reference ('' = reference)."""


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each dataclass field, for `--help` and the report.

    Python drops these strings at compile time, so read them from the class sources (the
    class and its bases, base first so subclasses win).
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for stmt, nxt in itertools.pairwise(body):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[stmt.target.id] = " ".join(nxt.value.value.split())
    return docs


def _parse_value(raw: str, annotation: Any, key: str) -> Any:
    """Turn the text of `--set key=raw` into a value of the field's type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _parse_value(raw, arg, key)
            except DlcError as e:
                errors.append(str(e))
        raise DlcError(errors[0])
    if origin is typing.Literal:
        for choice in args:
            if str(choice) == raw:
                return choice
        raise DlcError(f"--set {key}={raw}: choose one of {', '.join(map(str, args))}")
    if origin is tuple:
        items = [s.strip() for s in raw.strip("()[] ").split(",") if s.strip()]
        item_type = args[0] if args else str
        if len(args) > 1 and args[-1] is not Ellipsis and len(items) != len(args):
            raise DlcError(f"--set {key}={raw}: expected {len(args)} comma-separated values")
        return tuple(_parse_value(s, item_type, key) for s in items)
    return _parse_scalar(raw, annotation, key)


def _parse_scalar(raw: str, annotation: Any, key: str) -> Any:
    if annotation is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise DlcError(f"--set {key}={raw}: expected true or false")
    if annotation in (int, float):
        try:
            value = float(raw) if annotation is float else int(raw)
        except ValueError:
            kind = "a number" if annotation is float else "an integer"
            raise DlcError(f"--set {key}={raw}: expected {kind}") from None
        if isinstance(value, float) and math.isnan(value):
            raise DlcError(f"--set {key}={raw}: expected a number, and nan is not one")
        return value
    if annotation is str:
        return raw
    raise DlcError(f"--set {key}: fields of type {annotation} cannot be set from the command line")


def override(cfg: C, assignments: list[str]) -> C:
    """A copy of `cfg` with `key=value` assignments applied, typed by the fields.

    Raises DlcError for a malformed assignment, an unknown key (listing the valid ones), a
    value of the wrong type, or a value the config's own validation rejects.
    """
    hints = typing.get_type_hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    changes: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise DlcError(f"--set {item!r} is malformed: write --set key=value, e.g. --set seed=1")
        if key not in names:
            raise DlcError(
                f"--set {key}: {type(cfg).__name__} has no field {key!r}; "
                f"valid keys are {', '.join(names)}"
            )
        if not raw.isprintable():  # a pasted newline or tab: say so rather than echo it
            raise DlcError(f"--set {key}={raw!r}: the value holds a control character; retype it")
        changes[key] = _parse_value(raw.strip(), hints[key], key)
    return dataclasses.replace(cfg, **changes)


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The config as plain JSON-able data, plus its class name."""
    return {"__class__": type(cfg).__name__, **dataclasses.asdict(cfg)}


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a config written by `to_dict` (JSON turns tuples into lists).

    Raises ConfigError when a value has the wrong type (a hand-edited or foreign config.json).
    """
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = data[f.name]
            if typing.get_origin(hints[f.name]) is tuple and isinstance(value, list):
                value = tuple(value)
            if not _has_type(value, hints[f.name]):
                raise ConfigError(
                    f"{f.name} must be of type {_type_name(hints[f.name])}, got {value!r}"
                )
            values[f.name] = value
    return cls(**values)


def _has_type(value: Any, annotation: Any) -> bool:
    """Whether a JSON value fits a config field's annotation (an int is a fine float)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        item = args[0] if args else object
        return isinstance(value, tuple) and all(_has_type(v, item) for v in value)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is type(None):
        return value is None
    return isinstance(value, annotation) if isinstance(annotation, type) else True


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def describe(cfg: RunConfig) -> str:
    """A readable table of the config's fields, values and docs."""
    docs = field_docs(type(cfg))
    rows = [
        f"{f.name:<22} {json.dumps(getattr(cfg, f.name)):<14} {docs.get(f.name, '')}"
        for f in dataclasses.fields(cfg)
    ]
    return "\n".join(rows)
