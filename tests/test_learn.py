"""`dlcurriculum.learn`: the checks and experiments of the CLI, given Python objects."""

from pathlib import Path

import pytest

from dlcurriculum import catalog, learn
from dlcurriculum.ch01_transformers.attention import attention_pattern
from dlcurriculum.ch04_optimization import search
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import IN_PROCESS, chapter_exercises, check, resolve, start


def test_every_exercise_is_found_by_its_name_alone() -> None:
    for chapter in catalog.chapters().values():
        for ex in chapter_exercises(chapter.slug):
            assert learn.find(ex.name) == (chapter.slug, ex)
    with pytest.raises(DlcError, match="did you mean attention_pattern"):
        learn.find("attention_patern")


def no_scale(q, k, mask=None):  # type: ignore[no-untyped-def]
    """attention_pattern with one deliberate bug: the scores are not scaled."""
    scores = q @ k.transpose(-1, -2)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1)


def stub(q, k, mask=None):  # type: ignore[no-untyped-def]
    raise NotImplementedError("attention_pattern: see the docstring")


def test_check_prints_the_same_verdict_and_hint_as_dlc_check(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert learn.check("attention_pattern", attention_pattern)
    assert capsys.readouterr().out == "PASS  attention_pattern\n"
    assert not learn.check("attention_pattern", no_scale)
    printed = capsys.readouterr().out
    # the same bug in a workspace, graded by `dlc check`: the same named hint
    start("ch01_transformers", tmp_path)
    file = tmp_path / "ch01_transformers" / "attention.py"
    source = file.read_text()
    body = (
        "    scores = q @ k.transpose(-1, -2)\n"
        "    if mask is not None:\n"
        '        scores = scores.masked_fill(~mask, float("-inf"))\n'
        "    return scores.softmax(dim=-1)\n"
    )
    stub_line = '    raise NotImplementedError("attention_pattern: see the docstring")\n'
    file.write_text(source.replace(stub_line, body, 1))
    (result,) = check("ch01_transformers", tmp_path, "attention_pattern")
    assert not result.passed and "You forgot to divide the scores by sqrt(d_head)" in printed
    assert printed == f"FAIL  attention_pattern: {result.message}\n"
    assert not learn.check("attention_pattern", stub)
    assert "not implemented yet" in capsys.readouterr().out
    assert not learn.check("no_such_exercise", stub)
    assert "no exercise is called 'no_such_exercise'" in capsys.readouterr().out


def test_run_calls_the_objects_given_and_the_report_says_so(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    calls = []

    def steps_to_target(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return search.steps_to_target(*args, **kwargs)

    result = learn.run("nqm", impl={"steps_to_target": steps_to_target}, out=tmp_path)
    assert result is not None and calls
    assert f"code: {IN_PROCESS}" in (result.run_dir / "report.md").read_text()
    assert "Report:" in capsys.readouterr().out
    # once the run is over its objects are gone: resuming it elsewhere says so, in one line
    with pytest.raises(DlcError, match=r"learn\.run"):
        resolve("ch04_optimization", IN_PROCESS)


def test_run_mistakes_are_one_line_and_leave_no_run_folder(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    def unwritten(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise NotImplementedError("steps_to_target: see the docstring")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("shapes do not match")

    cases = [
        ({"steps_to_target": unwritten}, "steps_to_target is not written yet (unwritten raises"),
        ({"steps_to_target": broken}, "your code raised ValueError: shapes do not match (in"),
        ({"attention_pattern": attention_pattern}, "nqm does not call 'attention_pattern'"),
    ]
    for impl, message in cases:
        assert learn.run("nqm", impl=impl, out=tmp_path) is None
        printed = capsys.readouterr().out
        assert printed.startswith(f"error: {message}") and printed.count("\n") == 1, printed
    assert not list(tmp_path.rglob("summary.json"))
    assert learn.run("nqm", preset="huge", out=tmp_path) is None
    assert "unknown preset 'huge'" in capsys.readouterr().out
