"""Reference records (reference.py), the report's comparison and `dlc compare` (compare.py),
on real runs: the smoke runs of test_progress and the records kept in the package."""

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dlcurriculum import cli, reference
from dlcurriculum.cli import app
from dlcurriculum.compare import report_section, resolve, shared_curves
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.report import load_record
from tests.test_progress import RealRuns, real_runs

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> RealRuns:
    return real_runs(tmp_path_factory)


def _copy(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest, ignore=shutil.ignore_patterns("*.pt", "checkpoints"))
    return dest


@pytest.mark.parametrize(("experiment", "preset"), reference.available())
def test_every_packaged_record_loads_small_with_its_figures(experiment: str, preset: str) -> None:
    ref = reference.load(experiment, preset)
    assert ref is not None and (ref.experiment, ref.preset) == (experiment, preset)
    path = reference.REFERENCES / f"{experiment}.{preset}.json"
    assert path.stat().st_size < 64_000
    assert ref.criteria.get("status") and ref.wall_time_s > 0
    for fig in ref.figures:
        assert fig.read_bytes()[:8] == PNG and fig.stat().st_size <= reference.FIGURE_BYTES
    assert all(len(points) <= reference.MAX_POINTS for points in ref.curves.values())


def test_every_experiment_has_a_quick_record() -> None:
    from dlcurriculum import catalog

    missing = [e for e in catalog.experiments() if reference.load(e, "quick") is None]
    assert not missing, f"record them: dlc reference record EXPERIMENT ({missing})"


def test_a_record_round_trips_a_real_run(runs: RealRuns, tmp_path: Path) -> None:
    path = reference.record_run(runs.reference, tmp_path, commit="abc")
    ref = reference.load("mnist", "quick", tmp_path)
    assert ref is not None and path.stat().st_size < 64_000
    assert ref.commit == "abc" and ref.criteria["status"] == "PASS"
    record = load_record(runs.reference)
    steps, values = record.series("val/accuracy")
    assert ref.series("val/accuracy") == (steps, pytest.approx(values, rel=1e-4))
    assert ref.summary["test_accuracy"] == pytest.approx(record.summary["test_accuracy"])
    assert [p.name for p in ref.figures] == ["training.png"]
    assert reference.available(tmp_path) == [("mnist", "quick")]


def test_curves_are_thinned_keeping_both_ends() -> None:
    rows = [{"step": i, "loss": 1 / (i + 1), "note": "x"} for i in range(1000)]
    points = reference.curves(rows)["loss"]
    assert len(points) == reference.MAX_POINTS
    assert points[0] == [0, 1.0] and points[-1][0] == 999
    assert "note" not in reference.curves(rows)


def test_the_overlay_draws_results_not_counters_losses_first() -> None:
    mnist = reference.load("mnist", "smoke")
    assert mnist is not None
    keys = ["seed", "charts/lr", "pgd/epoch", "val/accuracy", "losses/train"]
    curves = {k: [[0, 1.0], [1, 0.5]] for k in keys} | {"eval/once": [[0, 1.0]]}
    ref = replace(mnist, curves=curves)
    assert shared_curves(ref, ref) == ["losses/train", "val/accuracy", "charts/lr"]
    assert shared_curves(ref, ref, points=1)[-1] == "eval/once"  # dlc compare: last values


def test_record_refuses_learner_code_and_unfinished_runs(runs: RealRuns, tmp_path: Path) -> None:
    with pytest.raises(DlcError, match="ran your code"):
        reference.record_run(runs.learner, tmp_path)
    torn = _copy(runs.reference, tmp_path / "torn")
    (torn / "criteria.json").unlink()
    with pytest.raises(DlcError, match="has not finished"):
        reference.record_run(torn, tmp_path)
    assert reference.available(tmp_path) == []


def test_the_report_overlays_the_run_on_the_reference(runs: RealRuns) -> None:
    report = (runs.reference / "report.md").read_text()
    assert "## Compared with the reference run" in report
    assert "![vs_reference](figures/vs_reference.png)" in report
    assert (runs.reference / "figures" / "vs_reference.png").read_bytes()[:8] == PNG
    assert (
        "| `test_accuracy` |" in report and "| final figure | yours | reference | delta |" in report
    )
    assert (runs.reference / "figures" / "reference_training.png").is_file()
    pair = (
        "| ![training](figures/training.png) "
        "| ![reference training](figures/reference_training.png) |"
    )
    assert pair in report  # the same figure, yours and ours side by side


def test_a_preset_without_record_says_which_exist(runs: RealRuns, tmp_path: Path) -> None:
    run = _copy(runs.reference, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "preset": "full"}))
    line = report_section(load_record(run))
    assert "no reference run of `mnist` at preset `full`" in line and "quick" in line
    with pytest.raises(DlcError, match="dlc reference record mnist --preset full"):
        resolve(run, None)


def test_dlc_compare_prints_the_deltas(runs: RealRuns, tmp_path: Path) -> None:
    run = _copy(runs.reference, tmp_path / "run")
    summary = json.loads((run / "summary.json").read_text())
    summary["test_accuracy"] = 0.5
    (run / "summary.json").write_text(json.dumps(summary))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows = [{**r, "val/loss": 9.0} if "val/loss" in r else r for r in rows]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(
        app, ["compare", str(run), str(runs.reference)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    record = load_record(runs.reference)
    [row] = [line for line in result.output.splitlines() if "test_accuracy" in line]
    assert f"{0.5 - record.summary['test_accuracy']:+.4g}" in row
    [row] = [line for line in result.output.splitlines() if "val/loss" in line]
    last = reference.run_curves(runs.reference)["val/loss"][-1][1]
    assert f"{9.0 - last:+.4g}" in row  # the curves' last values, yours changed
    assert "Success criteria" in result.output and "val/accuracy" in result.output
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "nothing")])
    assert isinstance(result.exception, DlcError) and "not a run folder" in str(result.exception)


def _error_line(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Any) -> str:
    """What `dlc ARGS` prints on stderr when it refuses, asserted to be one line, exit 2."""
    monkeypatch.setattr(sys, "argv", ["dlc", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    [line] = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and line.startswith("error:")
    return line


def test_bad_input_is_one_error_line(
    runs: RealRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    run = _copy(runs.reference, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "preset": "full"}))
    line = _error_line(["compare", str(run)], monkeypatch, capsys)
    assert "dlc reference record mnist --preset full" in line
    line = _error_line(["reference", "record", "--from", str(runs.learner)], monkeypatch, capsys)
    assert "ran your code" in line
    line = _error_line(["reference", "record", "mnist", "--commit", "x"], monkeypatch, capsys)
    assert "--commit goes with --from" in line
    assert "not both" in _error_line(["reference", "record"], monkeypatch, capsys)


def test_dlc_reference_record_writes_the_package_record(
    runs: RealRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference, "REFERENCES", tmp_path / "refs")
    args = ["reference", "record", "--from", str(runs.reference), "--commit", "abc"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "mnist.quick.json  (the run's criteria: PASS)" in result.output
    ref = reference.load("mnist", "quick", tmp_path / "refs")
    assert ref is not None and ref.commit == "abc"
    # the one command: a fresh run of the preset, kept under --out, then its record
    args = ["reference", "record", "nqm", "--preset", "smoke", "--out", str(tmp_path / "runs")]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    ref = reference.load("nqm", "smoke", tmp_path / "refs")
    assert ref is not None and ref.commit == reference.current_commit()
    [kept] = (tmp_path / "runs" / "nqm").iterdir()
    assert (kept / "summary.json").is_file()
