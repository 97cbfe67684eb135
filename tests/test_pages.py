from pathlib import Path

import pytest

from dlcurriculum import catalog, progress
from dlcurriculum.core.checks import CheckResult
from dlcurriculum.core.errors import DlcError
from dlcurriculum.pages import chapter_markdown, exercise_hint


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
