"""`dlc notebook N`: generated from the same sources as `dlc start`, graded in-process."""

import ast
import os
from pathlib import Path

import pytest

from dlcurriculum import catalog, notebook
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import chapter_exercises

nbformat = pytest.importorskip("nbformat")


@pytest.mark.parametrize("number", sorted(catalog.chapters()))
def test_every_chapter_builds_the_same_notebook_twice_and_its_code_parses(number: int) -> None:
    ch = catalog.get_chapter(number)
    for solutions in (False, True):
        nb = notebook.build(number, solutions)
        assert nbformat.writes(nb) == nbformat.writes(notebook.build(number, solutions))
        nbformat.validate(nb)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        for source in code:
            ast.parse(source)
        for ex in chapter_exercises(ch.slug):  # each exercise: its code and its check
            assert any(f"def {ex.qualname}(" in s or f"class {ex.qualname}" in s for s in code)
            assert f'learn.check("{ex.name}", {ex.qualname});' in code
        stubs = sum("raise NotImplementedError" in s for s in code)
        assert (stubs == 0) if solutions else (stubs >= len(chapter_exercises(ch.slug)))
    assert nb.cells[0].source.startswith(f"# {ch.number}. {ch.title}")


def test_notebook_is_written_once_and_overwritten_only_with_force(tmp_path: Path) -> None:
    path = notebook.write(4, tmp_path, solutions=False, force=False)
    assert path == tmp_path / "ch04_optimization.ipynb"
    path.write_text(path.read_text() + " ")  # the learner's work
    with pytest.raises(DlcError, match="pass --force"):
        notebook.write(4, tmp_path, solutions=False, force=False)
    assert path.read_text().endswith(" ")
    notebook.write(4, tmp_path, solutions=True, force=True)
    assert "raise NotImplementedError" not in path.read_text()
    assert notebook.write(4, tmp_path / "new", False, False) == tmp_path / "new" / path.name
    assert notebook.write(4, tmp_path / "mine.ipynb", False, False).name == "mine.ipynb"


def _execute(nb, cwd: Path):  # type: ignore[no-untyped-def]
    nbclient = pytest.importorskip("nbclient")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    nbclient.NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(cwd)}}).execute()
    return [(c.source, _text(c)) for c in nb.cells if c.cell_type == "code"]


def _text(cell) -> str:  # type: ignore[no-untyped-def]
    assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
    # print() arrives as a stream; the verdicts (rich, which knows Jupyter) as display data
    return "".join(o.get("text") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)


@pytest.mark.parametrize("number", sorted(catalog.chapters()))
def test_solutions_notebook_passes_every_check_and_runs(number: int, tmp_path: Path) -> None:
    ch = catalog.get_chapter(number)
    outputs = _execute(notebook.build(number, solutions=True), tmp_path)
    checks = [text for source, text in outputs if source.startswith("learn.check")]
    assert len(checks) == len(chapter_exercises(ch.slug))
    assert all(t.startswith("PASS") for t in checks), checks
    assert "Report:" in outputs[-1][1] and list(tmp_path.glob("runs/*/*/report.md"))


@pytest.mark.parametrize("number", sorted(catalog.chapters()))
def test_skeleton_notebook_says_not_written_yet_without_a_traceback(
    number: int, tmp_path: Path
) -> None:
    outputs = _execute(notebook.build(number), tmp_path)
    checks = [text for source, text in outputs if source.startswith("learn.check")]
    assert all(t.startswith("FAIL") and "not implemented yet" in t for t in checks), checks
    assert "ipykernel" not in "".join(checks)  # no kernel temp file named to the learner
    assert "is not written yet" in outputs[-1][1] and "error: " in outputs[-1][1]
    assert not list(tmp_path.glob("runs/*/*/summary.json")) or number == 7  # 7 runs ch 1 first


def test_a_deliberate_bug_shows_the_same_hint_as_dlc_check(tmp_path: Path) -> None:
    nb = notebook.build(1, solutions=True)
    (cell,) = [c for c in nb.cells if c.source.startswith("def attention_pattern(")]
    scale = "    scores = scores / math.sqrt(q.shape[-1])\n"
    assert scale in cell.source
    cell.source = cell.source.replace(scale, "")
    last = nb.cells.index(cell) + 1  # its check cell
    nb.cells = nb.cells[: last + 1]
    (_, text) = _execute(nb, tmp_path)[-1]
    assert text.startswith("FAIL  attention_pattern: attention_pattern(q [2, 3, 5, 8]")
    assert "You forgot to divide the scores by sqrt(d_head)." in text
