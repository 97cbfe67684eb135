from pathlib import Path

import pytest

from dlcurriculum import catalog, progress
from dlcurriculum.core.checks import CheckResult
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import BEGIN, END, chapter_exercises
from dlcurriculum.pages import chapter_markdown, exercise_hint, exercise_hints, exercise_source


@pytest.mark.parametrize("number", range(10))
def test_every_chapter_page_renders(number: int) -> None:
    ch = catalog.get_chapter(number)
    page = chapter_markdown(ch)
    assert page.startswith(f"# {number}. {ch.title}")
    assert ch.recommended[0].url in page
    assert "## In this software" in page
    for e in ch.experiments:
        assert f"`dlc run {e.name}`" in page


def test_hint_hides_the_solution() -> None:
    text = exercise_hint(catalog.get_chapter(0), "train_step")
    assert "zero_grad" in text  # the hint
    assert "loss.backward()" not in text
    with pytest.raises(DlcError, match="has no exercise 'nope'"):
        exercise_hint(catalog.get_chapter(0), "nope")


def test_hint_lines_that_continue_a_sentence_are_joined() -> None:
    source = """
    # HINT: the residual stream is never normalized, only the
    # HINT: copies the sub-blocks read.
    # HINT: a second hint:
    # HINT: and a third one.
    """
    assert exercise_hints(source) == [
        "the residual stream is never normalized, only the copies the sub-blocks read.",
        "a second hint:",
        "and a third one.",
    ]
    shown = exercise_hint(catalog.get_chapter(1), "transformer_block")
    assert "only the copies the sub-blocks read" in shown.replace("\n", " ")


@pytest.mark.parametrize("number", range(10))
def test_every_solution_is_code_to_paste(number: int) -> None:
    """No solution markers, and it parses: what `dlc solution` prints is valid Python."""
    import ast

    ch = catalog.get_chapter(number)
    for ex in chapter_exercises(ch.slug):
        source = exercise_source(ch, ex.name)
        assert BEGIN not in source and END not in source
        ast.parse(source)


def test_progress_is_derived_from_files(tmp_path: Path) -> None:
    ch = catalog.get_chapter(0)
    assert progress.checks_status(ch, tmp_path) == "not started"
    folder = tmp_path / ch.slug
    folder.mkdir()
    (folder / "model.py").write_text("x = 1\n")
    assert progress.checks_status(ch, tmp_path) == "not checked"
    progress.record_checks(ch, tmp_path, [CheckResult("cnn", True), CheckResult("accuracy", False)])
    assert progress.checks_status(ch, tmp_path) == "1/2 pass"
    (folder / "model.py").write_text("x = 2\n")
    assert progress.checks_status(ch, tmp_path) == "changed since check"
