"""Frozen run configs, their field docs, and `--set key=value` overrides.

Every experiment's config subclasses `RunConfig`. A config is frozen so it can be written
into the run folder and cannot drift mid-run; the CLI builds a new one with `override`.
"""

import ast
import dataclasses
import inspect
import itertools
import json
import textwrap
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from dlcurriculum.core.errors import DlcError

C = TypeVar("C", bound="RunConfig")


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
            return float(raw) if annotation is float else int(raw)
        except ValueError:
            kind = "a number" if annotation is float else "an integer"
            raise DlcError(f"--set {key}={raw}: expected {kind}") from None
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
        changes[key] = _parse_value(raw.strip(), hints[key], key)
    try:
        return dataclasses.replace(cfg, **changes)
    except (AssertionError, ValueError) as e:
        raise DlcError(f"invalid config: {e}") from None


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """The config as plain JSON-able data, plus its class name."""
    return {"__class__": type(cfg).__name__, **dataclasses.asdict(cfg)}


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuild a config written by `to_dict` (JSON turns tuples into lists)."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = data[f.name]
            if typing.get_origin(hints[f.name]) is tuple and isinstance(value, list):
                value = tuple(value)
            values[f.name] = value
    return cls(**values)


def describe(cfg: RunConfig) -> str:
    """A readable table of the config's fields, values and docs."""
    docs = field_docs(type(cfg))
    rows = [
        f"{f.name:<22} {json.dumps(getattr(cfg, f.name)):<14} {docs.get(f.name, '')}"
        for f in dataclasses.fields(cfg)
    ]
    return "\n".join(rows)
