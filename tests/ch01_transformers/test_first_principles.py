"""The first-principles questions are the learner's to answer: the page and the site ask them,
`dlc start 1` writes them to a file of the learner's, and our answers (with the measured residual
ablation) are shown only by `dlc solution 1 first_principles` (test_cli.py runs the command)."""

from pathlib import Path

import pytest

from dlcurriculum import catalog
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import start, written_answers, written_exercises
from dlcurriculum.pages import chapter_markdown, exercise_hint, exercise_solution

SLUG = "ch01_transformers"
QUESTIONS = (
    "How do transformers and RNNs handle time and recurrence?",
    "What are the shapes of Q, K and V, and what could replace the dot product?",
    "Are the dense layers shared across blocks?",
    "Why do residual connections matter, and what happens without them?",
)
ANSWERS = (  # a sentence of each answer, and the ablation's figures
    "The KV cache (`attention.KVCache`) plays the role",
    "The scaled dot product won because it is a single batched matmul",
    "`blocks.0.mlp.W_in` and `blocks.1.mlp.W_in` are different tensors",
    "the first block's gradient is 48 times the last block's",
    "| 8 | no | 3.466 | 3.2% | 3.2% | 48.4 | 113 |",
    "| 8 | yes | 1.734 | 100.0% | 3.2% | 1.22 | 178 |",
)


def _answers() -> str:
    return written_answers(SLUG)["first_principles"].read_text(encoding="utf-8")


def test_start_writes_the_questions_once(tmp_path: Path) -> None:
    written = dict(start(SLUG, tmp_path))
    sheet = tmp_path / SLUG / "first_principles.md"
    assert written[sheet]
    text = sheet.read_text(encoding="utf-8")
    assert all(q in text for q in QUESTIONS) and "dlc solution 1 first_principles" in text
    assert not any(a in text for a in ANSWERS)
    sheet.write_text("my answers")
    again = dict(start(SLUG, tmp_path))
    assert not again[sheet] and sheet.read_text() == "my answers"


def test_the_page_asks_the_questions_and_keeps_our_answers_back() -> None:
    page = chapter_markdown(catalog.get_chapter(1))
    assert all(q in page for q in QUESTIONS)
    assert "workspace/ch01_transformers/first_principles.md" in page
    assert "dlc solution 1 first_principles" in page
    answers = _answers()
    for sentence in ANSWERS:
        assert sentence in answers, sentence
        assert sentence not in page, sentence
    assert "48.4" not in page and "3.466" not in page


def test_solution_shows_our_answers_and_hint_only_the_questions() -> None:
    ch = catalog.get_chapter(1)
    assert exercise_solution(ch, "first_principles") == (_answers(), "markdown")
    assert exercise_solution(ch, "layer_norm")[1] == "python"
    hint = exercise_hint(ch, "first_principles")
    assert all(q in hint for q in QUESTIONS) and "Hint:" in hint
    assert not any(a in hint for a in ANSWERS)
    with pytest.raises(DlcError, match=r"'bogus'.*transformer, first_principles \(written\)"):
        exercise_solution(ch, "bogus")


def test_a_written_exercise_without_answers_says_so() -> None:
    """Chapter 7's ELK proposal is written but has no answers of ours."""
    assert "elk_proposal" in written_exercises("ch07_alignment")
    assert "elk_proposal" not in written_answers("ch07_alignment")
    with pytest.raises(DlcError, match="'elk_proposal' is a written exercise with no answers"):
        exercise_solution(catalog.get_chapter(7), "elk_proposal")


def test_the_site_asks_the_questions_and_does_not_leak_our_answers(tmp_path: Path) -> None:
    from dlcurriculum.site import build_site

    site = tmp_path / "site"
    build_site(tmp_path / "no-runs", site)
    page = (site / "chapters" / f"{SLUG}.html").read_text()
    assert all(q in page for q in QUESTIONS)
    assert "dlc solution 1 first_principles" in page
    # fragments of the answers that survive the markdown-to-HTML rendering unchanged
    leaks = ("plays the role", "single batched matmul", "ALBERT", "48.4", "3.466", "times the last")
    assert all(leak in _answers() for leak in leaks)
    for f in (p for p in site.rglob("*") if p.is_file()):
        text = f.read_text(errors="replace")
        assert not [leak for leak in leaks if leak in text], f
    assert not list(site.rglob("*answers*")), "the answers file was copied into the site"
