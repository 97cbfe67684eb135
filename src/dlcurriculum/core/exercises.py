"""Exercises: the registry record, skeletons generated from the reference, learner code loading.

One source of truth: the reference modules mark what a learner writes with
`# BEGIN SOLUTION` / `# END SOLUTION`. The skeleton is the same file with each marked block
replaced by `raise NotImplementedError`, keeping signatures, docstrings and `# HINT:` lines.
"""

import ast
import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from dlcurriculum.core.errors import LEARNER_PACKAGE, DlcError, public_names

if TYPE_CHECKING:  # checks imports torch; listing exercises must not
    from dlcurriculum.core.checks import CheckResult

BEGIN, END, HINT = "# BEGIN SOLUTION", "# END SOLUTION", "# HINT:"
DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Exercise:
    """One piece of a chapter the learner writes, and the check that grades it."""

    name: str
    module: str
    """Module of the chapter package that holds it, e.g. "model"."""
    qualname: str
    """Function or class inside that module, e.g. "CNN"."""
    check: str
    """Name of the grader in the chapter's checks.py."""
    difficulty: int = 1
    depends_on: tuple[str, ...] = ()


def make_skeleton(source: str, path: str = "<reference>") -> str:
    """Replace every solution block with a NotImplementedError stub, keeping hints.

    Works line by line because the markers are comments, which the AST drops.
    """
    out: list[str] = []
    inside: str | None = None  # indentation of the open block
    for lineno, line in enumerate(source.splitlines(keepends=True), 1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside is not None:
                raise ValueError(f"{path}:{lineno}: nested {BEGIN}")
            inside = line[: len(line) - len(line.lstrip())]
            name = _enclosing_def(out)
            out.append(f'{inside}raise NotImplementedError("{name}: see the docstring")\n')
        elif stripped == END:
            if inside is None:
                raise ValueError(f"{path}:{lineno}: {END} without {BEGIN}")
            inside = None
        elif inside is None:
            out.append(line)
        elif stripped.startswith(HINT):
            out.insert(len(out) - 1, line)  # hints go above the raise
    if inside is not None:
        raise ValueError(f"{path}: {BEGIN} is never closed")
    skeleton = "".join(out)
    ast.parse(skeleton, filename=path)  # a skeleton that does not compile is our bug
    return skeleton


def _enclosing_def(lines: list[str]) -> str:
    for line in reversed(lines):
        m = re.match(r"\s*(?:async\s+)?def\s+(\w+)", line)
        if m:
            return m.group(1)
    return "this exercise"


def chapter_exercises(slug: str) -> list[Exercise]:
    """The EXERCISES a chapter declares in its chapter.py."""
    return list(importlib.import_module(f"dlcurriculum.{slug}.chapter").EXERCISES)


def reference_path(slug: str, module: str) -> Path:
    """The file of a reference module."""
    spec = importlib.util.find_spec(f"dlcurriculum.{slug}.{module}")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin)


TEMPLATE, ANSWERS = "_template.md", "_answers.md"
"""A written exercise NAME (prose, not code) is a NAME_template.md in the chapter package:
`dlc start` copies it to NAME.md in the workspace; NAME_answers.md beside it, where there is
one, holds our answers, which `dlc solution N NAME` shows after asking, as for code."""


def package_dir(slug: str) -> Path:
    """The folder of a chapter package."""
    spec = importlib.util.find_spec(f"dlcurriculum.{slug}")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent


def written_exercises(slug: str) -> dict[str, Path]:
    """The chapter's written exercises: name -> its template (see `TEMPLATE`)."""
    templates = sorted(package_dir(slug).glob(f"*{TEMPLATE}"))
    return {t.name.removesuffix(TEMPLATE): t for t in templates}


def written_answers(slug: str) -> dict[str, Path]:
    """The written exercises that have our answers: name -> the answers file."""
    answers = {n: t.with_name(n + ANSWERS) for n, t in written_exercises(slug).items()}
    return {n: a for n, a in answers.items() if a.is_file()}


def start(slug: str, workspace: Path) -> list[tuple[Path, bool]]:
    """Write the chapter's skeleton files and written exercises into workspace/<slug>/, never
    overwriting.

    Imports between the chapter's exercise modules become relative, so the learner's
    model.py uses the learner's attention.py, not ours.

    Returns (path, written) for each file; written is False where the learner's file was kept.
    """
    modules = sorted({e.module for e in chapter_exercises(slug)})
    written_ones = written_exercises(slug)
    if not modules and not written_ones:
        raise DlcError(f"{slug} has no exercises yet: see `dlc show` for what is available")
    folder = workspace / slug
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for module in modules:
        target = folder / f"{module}.py"
        if target.exists():
            results.append((target, False))
            continue
        ref = reference_path(slug, module)
        target.write_text(learner_source(slug, make_skeleton(ref.read_text(), str(ref))))
        results.append((target, True))
    for name, template in written_ones.items():  # e.g. chapter 7's ELK proposal
        target = folder / f"{name}.md"
        written = not target.exists()
        if written:
            target.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
        results.append((target, written))
    return results


def learner_source(slug: str, source: str) -> str:
    """A chapter module's text as it lives in a workspace: imports between the chapter's
    exercise modules made relative, so the learner's files use each other, not ours."""
    modules = sorted({e.module for e in chapter_exercises(slug)})
    sibling = re.compile(rf"^(\s*)from dlcurriculum\.{slug}\.({'|'.join(modules)}) import", re.M)
    return sibling.sub(r"\1from .\2 import", source)


def learner_file(workspace: Path, slug: str, module: str) -> Path:
    """Where the learner's version of a module lives."""
    return workspace / slug / f"{module}.py"


def _package_name(workspace: Path, slug: str) -> str:
    digest = hashlib.sha1(str(workspace.resolve()).encode()).hexdigest()[:10]
    return f"{LEARNER_PACKAGE}{digest}.{slug}"


def _learner_package(workspace: Path, slug: str) -> str:
    """Register workspace/<slug>/ as a fresh package and return its name.

    Forgetting earlier imports of it means a learner's edits are picked up, and a package
    name per workspace keeps two workspaces in one process apart.
    """
    name = _package_name(workspace, slug)
    top = name.split(".")[0]
    for key in [k for k in sys.modules if k == top or k.startswith(top + ".")]:
        del sys.modules[key]
    for pkg_name, path in ((top, workspace), (name, workspace / slug)):
        pkg = ModuleType(pkg_name)
        pkg.__path__ = [str(path)]
        sys.modules[pkg_name] = pkg
    return name


def load_learner_module(workspace: Path, slug: str, module: str, fresh: bool = True) -> ModuleType:
    """Import the learner's file as a module of its workspace package, or DlcError saying why not.

    Args:
        fresh: forget the workspace's earlier imports first (False: reuse them, so modules
            loaded together see each other's objects).
    """
    path = learner_file(workspace, slug, module)
    if not path.is_file():
        raise DlcError(f"{path} does not exist: run `dlc start` with --dir {workspace} first")
    package = _package_name(workspace, slug)
    if fresh or package not in sys.modules:
        package = _learner_package(workspace, slug)
    try:
        return importlib.import_module(f"{package}.{module}")
    except Exception as e:
        sys.modules.pop(f"{package}.{module}", None)
        raise DlcError(public_names(f"{path} does not import: {type(e).__name__}: {e}")) from None


IN_PROCESS = "in-process (learn.run)"
"""The `impl` of a run given Python objects rather than a workspace (`learn.run`)."""
_objects: dict[str, dict[str, Any]] = {}
"""slug -> qualname -> the learner's object, while a `learn.run` lasts."""


@contextmanager
def in_process(slug: str, objects: dict[str, Any]) -> Iterator[None]:
    """Within the block, `resolve(slug, IN_PROCESS)` gives `objects` (by qualname) in place
    of the reference's, and the reference for the rest."""
    _objects[slug] = objects
    try:
        yield
    finally:
        _objects.pop(slug, None)


def resolve(slug: str, impl: str | Path = "") -> SimpleNamespace:
    """The chapter's exercise code by qualname (ns.CNN): the learner's when `impl` is a workspace
    (or IN_PROCESS, inside `in_process`).

    Experiments call their exercise code through this namespace, so the same training loop
    runs the reference or the learner's code.
    """
    if impl == IN_PROCESS:
        if slug not in _objects:
            raise DlcError(
                "this run uses code defined in Python (learn.run), which lives only in the "
                "process that started it (not in a resumed run, nor in a worker process started "
                "with spawn, as on macOS): start a new run with learn.run, or write the code in "
                "a workspace (`dlc start`) and run it with --impl"
            )
        return SimpleNamespace(**{**vars(resolve(slug)), **_objects[slug]})
    found: dict[str, Any] = {}
    for i, ex in enumerate(chapter_exercises(slug)):
        if impl:
            mod = load_learner_module(Path(impl), slug, ex.module, fresh=i == 0)
        else:
            mod = importlib.import_module(f"dlcurriculum.{slug}.{ex.module}")
        found[ex.qualname] = getattr(mod, ex.qualname)
    return SimpleNamespace(**found)


def refuse_chapter_folder(slug: str, workspace: Path, flag: str) -> None:
    """DlcError when `workspace` is a chapter folder inside the workspace (WS/ch00_mnist)
    rather than the workspace itself: the commonest way to point at the wrong folder."""
    if workspace.name == slug and not (workspace / slug).exists():
        raise DlcError(
            f"{flag} {workspace} is the chapter's folder; pass the workspace that holds it: "
            f"{flag} {workspace.parent}"
        )


def unfinished(slug: str, workspace: Path, names: Sequence[str] | None = None) -> list[str]:
    """The exercises (of `names` and what they depend on; default all) whose code in the
    workspace still raises NotImplementedError, as "CNN.forward (ws/ch00_mnist/model.py:41)".

    Read from the source, so it costs no import and finds a stub the run would reach only
    after minutes of work. Raises DlcError for a missing file or one that does not parse.
    """
    refuse_chapter_folder(slug, workspace, "--impl")
    exercises = {e.name: e for e in chapter_exercises(slug)}
    wanted = list(exercises if names is None else names)
    for name in wanted:  # grows while it is walked: the dependencies' dependencies
        wanted.extend(d for d in exercises[name].depends_on if d not in wanted)
    found = []
    for ex in (exercises[n] for n in exercises if n in wanted):
        path = learner_file(workspace, slug, ex.module)
        if not path.is_file():
            raise DlcError(f"{path} does not exist: run `dlc start` with --dir {workspace} first")
        try:
            tree = ast.parse(path.read_text(), filename=str(path))
        except SyntaxError as e:
            raise DlcError(f"{path}:{e.lineno} does not parse: {e.msg}") from None
        for top in tree.body:
            if isinstance(top, DEFS) and top.name == ex.qualname:
                found += [f"{where} ({path}:{line})" for where, line in find_stubs(top, top.name)]
    return found


def find_stubs(node: ast.AST, name: str) -> Iterator[tuple[str, int]]:
    """(qualified name, line) of each `raise NotImplementedError` inside a def or class."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, DEFS):
            yield from find_stubs(child, f"{name}.{child.name}")
            continue
        if isinstance(child, ast.Raise) and child.exc is not None:
            exc = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                yield name, child.lineno
        yield from find_stubs(child, name)


def grader(slug: str, ex: Exercise) -> Any:
    """The check that grades an exercise, from its chapter's checks.py."""
    return getattr(importlib.import_module(f"dlcurriculum.{slug}.checks"), ex.check)


def check(slug: str, workspace: Path, only: str | None = None) -> list["CheckResult"]:
    """Grade the learner's files in workspace/<slug>/ with the chapter's checks (a missing
    workspace fails each check with the file to create; a file in its place is a DlcError)."""
    if workspace.exists() and not workspace.is_dir():
        what = "a file" if workspace.is_file() else "not a folder"
        raise DlcError(
            f"--dir {workspace} is {what}: give the workspace folder "
            f"(create one with `dlc start {slug} --dir FOLDER`)"
        )
    refuse_chapter_folder(slug, workspace, "--dir")
    import torch

    from dlcurriculum.core.checks import CheckResult, run_check

    # checks use tiny tensors: one thread is faster, and far faster on a busy machine
    torch.set_num_threads(1)
    exercises = chapter_exercises(slug)
    if only is not None:
        exercises = [e for e in exercises if e.name == only]
        if not exercises:
            names = ", ".join(e.name for e in chapter_exercises(slug))
            raise DlcError(f"unknown exercise {only!r} in {slug}: choose one of {names}")
    results = []
    for ex in exercises:
        source = learner_file(workspace, slug, ex.module)
        try:
            impl = getattr(load_learner_module(workspace, slug, ex.module), ex.qualname)
        except DlcError as e:
            results.append(CheckResult(ex.name, False, str(e)))
            continue
        except AttributeError:
            msg = f"{source} has no {ex.qualname}: restore it from `dlc start` into a new folder"
            results.append(CheckResult(ex.name, False, msg))
            continue
        results.append(run_check(ex.name, grader(slug, ex), impl, source))
    return results
