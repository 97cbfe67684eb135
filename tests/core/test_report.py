"""Verdicts: PASS, FAIL or N/A per criterion, a run's status, labels from the bar the run used."""

import json
from pathlib import Path

from dlcurriculum.core.report import (
    FAIL,
    INCOMPLETE,
    NOT_MEASURED,
    PASS,
    SMOKE,
    Criterion,
    RunRecord,
    Verdict,
    at_least,
    at_most,
    judge_run,
    not_measured,
    write_report,
)

ACCURACY = at_least("test accuracy", "test_accuracy", "target_accuracy", "{:.2%}")


def _record(tmp_path: Path, summary: dict, **config: object) -> RunRecord:
    cfg = {"experiment": "x", "preset": "quick", "seed": 0, "target_accuracy": 0.99, **config}
    return RunRecord(tmp_path, cfg, [], summary)


def test_a_bar_read_from_the_config_judges_and_labels(tmp_path: Path) -> None:
    good = _record(tmp_path, {"test_accuracy": 0.992})
    assert ACCURACY(good) == Verdict(True, "99.20%")
    assert ACCURACY.label(good.config) == "test accuracy ≥ 99.00%"
    stricter = _record(tmp_path, {"test_accuracy": 0.992}, target_accuracy=0.995)
    assert ACCURACY(stricter) == Verdict(False, "99.20%")  # `--set target_accuracy=0.995`
    assert ACCURACY.label(stricter.config) == "test accuracy ≥ 99.50%"


def test_fixed_bars_nested_keys_and_at_most(tmp_path: Path) -> None:
    gap = at_most("max |diff|", "diffs.loss", 1e-5, "{:.1e}")
    assert gap.label({}) == "max |diff| ≤ 1.0e-05"
    assert gap(_record(tmp_path, {"diffs": {"loss": 2e-6}})).passed is True
    assert gap(_record(tmp_path, {"diffs": {"loss": 2e-4}})).passed is False
    assert gap(_record(tmp_path, {"diffs": {"loss": float("nan")}})).passed is False


def test_a_missing_figure_is_not_measured_never_a_pass(tmp_path: Path) -> None:
    v = ACCURACY(_record(tmp_path, {"wall_time_s": 1.0}))
    assert v.passed is None and v.status == NOT_MEASURED and "test_accuracy" in v.measured
    assert not_measured("the fit did not converge").status == NOT_MEASURED


def test_run_status_needs_every_criterion_measured_and_passed(tmp_path: Path) -> None:
    na = Criterion("sometimes unmeasured", lambda r: not_measured("no fit"))
    fails = Criterion("always fails", lambda r: Verdict(False, "0"))
    good = _record(tmp_path, {"test_accuracy": 0.995})
    assert judge_run(good, [ACCURACY]).status == PASS
    assert judge_run(good, [ACCURACY, na]).status == INCOMPLETE
    assert judge_run(good, [ACCURACY, na, fails]).status == FAIL
    assert judge_run(_record(tmp_path, {}), [ACCURACY]).status == INCOMPLETE  # unfinished
    smoke = _record(tmp_path, {"test_accuracy": 0.5}, preset="smoke")
    judged = judge_run(smoke, [ACCURACY])
    assert judged.status == SMOKE and judged.verdicts[0][1].status == FAIL  # computed, not judged


def test_a_comparison_not_asked_for_gets_no_verdict(tmp_path: Path) -> None:
    ddp = Criterion("losses equal DDP's", lambda r: Verdict(r.summary["ddp"] == 0, "0"), "ddp")
    off = judge_run(_record(tmp_path, {"test_accuracy": 0.995}, ddp=False), [ACCURACY, ddp])
    assert [n for n, _ in off.verdicts] == ["test accuracy ≥ 99.00%"] and off.status == PASS
    assert off.not_run == [("losses equal DDP's", "--set ddp=true")]
    on = judge_run(_record(tmp_path, {"test_accuracy": 0.995}, ddp=True), [ACCURACY, ddp])
    assert on.status == INCOMPLETE and not on.not_run  # asked for, but the figure is missing


def test_report_and_criteria_json_show_all_three_verdicts(tmp_path: Path) -> None:
    na = Criterion("IG sums to f(x) - f(0) within {tol:.0%}", lambda r: not_measured("no images"))
    off = Criterion("ZeRO-1 memory", lambda r: Verdict(True, "x"), when="zero")
    record = _record(tmp_path, {"test_accuracy": 0.98, "wall_time_s": 3.0}, tol=0.01, zero=False)
    judged = write_report(record, "T", [ACCURACY, na, off], [])
    report = (tmp_path / "report.md").read_text()
    assert "| test accuracy ≥ 99.00% | 98.00% | **FAIL** |" in report
    assert "| IG sums to f(x) - f(0) within 1% | not measured: no images | N/A |" in report
    assert "ZeRO-1 memory (turn it on with `--set zero=true`)" in report
    assert "FAIL: 1 of 2 criteria fail, 1 not measured." in report
    saved = json.loads((tmp_path / "criteria.json").read_text())
    assert saved == judged.to_json() and saved["status"] == FAIL
    assert [c["status"] for c in saved["criteria"]] == [FAIL, NOT_MEASURED]
    assert saved["not_run"] == [{"criterion": "ZeRO-1 memory", "enable": "--set zero=true"}]


def test_a_label_with_an_unknown_placeholder_is_kept_as_written() -> None:
    assert (
        Criterion("within {nope:.0%}", lambda r: Verdict(True, "")).label({}) == "within {nope:.0%}"
    )
