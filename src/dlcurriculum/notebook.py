"""`dlc notebook N`: a chapter as a Jupyter notebook, generated from the sources `dlc start` uses.

The page (chapter_markdown), then per exercise: what to write and its hints (folded), the
names it needs from its module, the skeleton (or with --solutions the reference) from the
solution markers, and a check cell that runs `dlc check`'s check in-process. Last, a cell
that runs the chapter's experiment with the notebook's definitions (`learn.run`). Nothing is
written twice: regenerate after the sources change, and the diff shows what changed.
"""

import ast
import builtins
import importlib
import inspect
import textwrap
from pathlib import Path
from typing import Any

from dlcurriculum import catalog, pages
from dlcurriculum.core.curriculum import Chapter
from dlcurriculum.core.errors import DlcError, install_hint
from dlcurriculum.core.exercises import (
    Exercise,
    chapter_exercises,
    make_skeleton,
    written_exercises,
)

RUN_FIRST = {"rlhf": ("shakespeare", "policy_run")}
"""Experiments that start from another experiment's run: (that experiment, the field)."""


def notebook_name(ch: Chapter) -> str:
    return f"{ch.slug}.ipynb"


def build(chapter: int | str, solutions: bool = False) -> Any:
    """The chapter's notebook (an nbformat NotebookNode)."""
    nbf = _nbformat()
    ch = catalog.get_chapter(chapter)
    cells = [_md(section) for section in _sections(pages.chapter_markdown(ch))]
    exercises = chapter_exercises(ch.slug)
    if exercises:
        cells += [
            _md(
                "## Your turn\n\nEach exercise below has a cell to write it in and a cell that "
                "grades it with the same checks as `dlc check`. Run the cells from the top."
            ),
            _code("from dlcurriculum import learn"),
        ]
    qualnames = {e.qualname for e in exercises}
    for ex in exercises:
        cells += _exercise_cells(ch, ex, qualnames, solutions)
    for name, template in written_exercises(ch.slug).items():
        text = template.read_text(encoding="utf-8")
        cells.append(_md(f"## Written exercise: {name}\n\nWrite your answers below.\n\n{text}"))
    cells += _run_cells(ch, exercises)
    nb = nbf.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating gives the same file
        cell["id"] = f"{ch.slug}-{i:03d}"
    return nb


def write(chapter: int | str, out: Path | None, solutions: bool, force: bool) -> Path:
    """Write the chapter's notebook; refuse to overwrite one without `force`."""
    nbf = _nbformat()
    ch = catalog.get_chapter(chapter)
    path = out if out is not None else Path(notebook_name(ch))
    if path.is_dir() or path.suffix != ".ipynb":  # a folder, existing or to be made
        path = path / notebook_name(ch)
    if path.exists() and not force:
        raise DlcError(f"{path} exists (your work may be in it): pass --force to overwrite it")
    from dlcurriculum.core.runs import atomic_open

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w") as f:
        f.write(nbf.writes(build(chapter, solutions)))
    return path


def _sections(page: str) -> list[str]:
    """The page cut before each `## ` heading (outside code blocks): one cell per section."""
    out: list[list[str]] = [[]]
    fenced = False
    for line in page.splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("## ") and not fenced and any(x.strip() for x in out[-1]):
            out.append([])
        out[-1].append(line)
    return ["\n".join(lines) for lines in out if any(x.strip() for x in lines)]


def _exercise_cells(ch: Chapter, ex: Exercise, qualnames: set[str], solutions: bool) -> list[Any]:
    module = importlib.import_module(f"dlcurriculum.{ch.slug}.{ex.module}")
    source = inspect.getsource(getattr(module, ex.qualname))
    code = pages.exercise_source(ch, ex.name) if solutions else make_skeleton(source)
    hints = pages.exercise_hints(source)
    needs = f" (uses {', '.join(f'`{d}`' for d in ex.depends_on)})" if ex.depends_on else ""
    obj = getattr(module, ex.qualname)
    kind = "class" if inspect.isclass(obj) else "def"
    signature = f"{kind} {ex.qualname}{inspect.signature(obj.__init__ if kind == 'class' else obj)}"
    text = [
        f"### Exercise `{ex.name}`{needs}",
        "",
        f"Write `{ex.qualname}` below (the reference lives in `{ex.module}.py`); its "
        "docstring says what it must do.",
        "",
        f"```python\n{signature}\n```",
    ]
    if hints:
        folded = "\n".join(f"- {h}" for h in hints)
        text += ["", f"<details><summary>Hints</summary>\n\n{folded}\n\n</details>"]
    context = _context_imports(module, source, qualnames)
    cells = [_md("\n".join(text))]
    if context:
        cells.append(_code(context))
    return [*cells, _code(code.rstrip()), _code(f'learn.check("{ex.name}", {ex.qualname});')]


def _context_imports(module: Any, source: str, qualnames: set[str]) -> str:
    """`from <module> import ...` for the module-level names the exercise's code reads,
    except the exercises defined in the notebook itself (yours are used, not ours)."""
    tree = ast.parse(textwrap.dedent(source))
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    own = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    names = sorted(
        n for n in read - own - qualnames if n in vars(module) and not hasattr(builtins, n)
    )
    return f"from {module.__name__} import {', '.join(names)}" if names else ""


def _run_cells(ch: Chapter, exercises: list[Exercise]) -> list[Any]:
    """Run the chapter's first experiment that calls its exercises, with yours."""
    from dlcurriculum.core.experiment import load_spec

    for entry in ch.experiments:
        spec = load_spec(entry.module, entry.attr)
        if spec.exercises == () or not exercises:
            continue
        called = [e for e in exercises if spec.exercises is None or e.name in spec.exercises]
        impl = ", ".join(f'"{e.name}": {e.qualname}' for e in called)
        lines, sets = [], ""
        if entry.name in RUN_FIRST:
            first, field = RUN_FIRST[entry.name]
            lines.append(f'base = learn.run("{first}", preset="smoke")')
            sets = f', sets=[f"{field}={{base.run_dir}}"]'
        lines.append(f'result = learn.run("{entry.name}", preset="smoke", impl={{{impl}}}{sets})')
        lines.append("learn.show(result)")
        return [
            _md(
                f"## Run it\n\nThe chapter's experiment `{entry.name}` with your code, on the "
                "`smoke` preset (seconds; a smoke run proves the code runs, not that it "
                'learns). Change the preset to `"quick"` for the real thing.'
            ),
            _code("\n".join(lines)),
        ]
    return []


def _md(text: str) -> Any:
    return _nbformat().v4.new_markdown_cell(text.strip())


def _code(text: str) -> Any:
    return _nbformat().v4.new_code_cell(text)


def _nbformat() -> Any:
    try:
        import nbformat
    except ImportError as e:
        raise DlcError(f"notebooks need nbformat: {install_hint('notebook')}") from e
    return nbformat
