"""The package's shape: every chapter laid out alike, no import cycles, no oversized module.

CONTRIBUTING.md describes the anatomy these tests hold the code to.
"""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from dlcurriculum.catalog import SLUGS
from dlcurriculum.core.exercises import chapter_exercises

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "dlcurriculum"

CHAPTER_FILES = (
    "__init__.py",
    "chapter.py",
    "config.py",
    "experiments.py",
    "report.py",
    "checks.py",
    "impl.py",
    "README.md",
)
"""What every chapter package holds (CONTRIBUTING.md, "The anatomy of a chapter")."""

MAX_LINES = 400
LONGER_ALLOWED: dict[str, str] = {}
"""Modules allowed over MAX_LINES, with the reason."""


def module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(src: Path = SRC) -> dict[str, Path]:
    return {module_name(p, src): p for p in sorted((src / "dlcurriculum").rglob("*.py"))}


def imports_of(path: Path, known: set[str], src: Path = SRC) -> set[str]:
    """The package's modules that `path` imports, anywhere in the file (TYPE_CHECKING blocks
    and function bodies too: a cycle hidden in either is still a cycle)."""
    name = module_name(path, src)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .a import b
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m in known and m != name}


def import_cycles(src: Path = SRC) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    table = modules(src)
    graph = {m: sorted(imports_of(p, set(table), src)) for m, p in table.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return groups


@pytest.mark.parametrize("slug", SLUGS)
def test_every_chapter_has_the_same_anatomy(slug: str) -> None:
    missing = [f for f in CHAPTER_FILES if not (PACKAGE / slug / f).is_file()]
    assert not missing, f"{slug} lacks {missing} (see CONTRIBUTING.md)"


@pytest.mark.parametrize("slug", SLUGS)
def test_the_impl_protocol_types_every_exercise_as_written(slug: str) -> None:
    """impl.Impl, the type of the --impl namespace, has one member per exercise, and each
    function's parameters are the reference's: mypy then checks every call a loop makes."""
    impl = importlib.import_module(f"dlcurriculum.{slug}.impl")
    members = {n for n in dir(impl.Impl) if not n.startswith("_")} | set(
        getattr(impl.Impl, "__annotations__", {})
    )
    for ex in chapter_exercises(slug):
        assert ex.qualname in members, f"{slug}.impl.Impl lacks {ex.qualname}"
        reference = getattr(
            importlib.import_module(f"dlcurriculum.{slug}.{ex.module}"), ex.qualname
        )
        declared = getattr(impl.Impl, ex.qualname, None)
        if inspect.isfunction(reference) and inspect.isfunction(declared):
            expected = list(inspect.signature(reference).parameters)
            assert list(inspect.signature(declared).parameters)[1:] == expected, ex.qualname
    assert sorted(members) == sorted(ex.qualname for ex in chapter_exercises(slug))


def test_no_import_cycles() -> None:
    assert import_cycles() == []


def test_the_cycle_finder_finds_hidden_cycles(tmp_path: Path) -> None:
    pkg = tmp_path / "dlcurriculum"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from dlcurriculum import b\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import x\n"
    )
    (pkg / "c.py").write_text("def f():\n    import dlcurriculum.a\n")
    (pkg / "d.py").write_text("from dlcurriculum import a\n")
    assert import_cycles(tmp_path) == [["dlcurriculum.a", "dlcurriculum.b", "dlcurriculum.c"]]
    (pkg / "c.py").write_text("x = 1\n")
    assert import_cycles(tmp_path) == []


def test_no_module_is_too_long() -> None:
    long = {
        m: n
        for m, p in modules().items()
        if (n := len(p.read_text().splitlines())) > MAX_LINES and m not in LONGER_ALLOWED
    }
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


def test_allowed_exceptions_are_still_needed() -> None:
    table = modules()
    for m, reason in LONGER_ALLOWED.items():
        assert reason and m in table, m
        assert len(table[m].read_text().splitlines()) > MAX_LINES, f"{m} is short now: drop it"
