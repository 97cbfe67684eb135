"""`dlc run nqm` end to end on the smoke preset, and the criteria on planted summaries."""

import json
from pathlib import Path

import pytest

from dlcurriculum.ch04_optimization.experiments import NQM, PRESETS, run
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import Result, launch
from dlcurriculum.core.report import RunRecord


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Result:
    result, _ = launch(NQM, PRESETS["smoke"], "smoke", tmp_path_factory.mktemp("runs"))
    return result


def test_presets_and_validation() -> None:
    assert PRESETS["quick"].dim == 1000 and PRESETS["full"].dim == 10_000
    assert PRESETS["full"].n_batches > PRESETS["quick"].n_batches
    assert PRESETS["quick"].batch_sizes[0] == 1 / 8
    with pytest.raises(DlcError, match="invalid config"):
        NQM.config("smoke", ["slope_batches=9"])


def test_smoke_run_writes_report_figures_and_summary(smoke_run: Result) -> None:
    run_dir = smoke_run.run_dir
    for name in ("config.json", "summary.json", "report.md", "criteria.json", "metrics.jsonl"):
        assert (run_dir / name).exists(), name
    figures = {p.name for p in (run_dir / "figures").iterdir()}
    assert figures == {"lr_vs_batch.png", "steps_vs_batch.png", "loss_curves.png"}
    opts = smoke_run.summary["optimizers"]
    assert set(opts) == {"sgd", "momentum", "adam"}
    for r in opts.values():
        assert len(r["steps"]) == len(r["best_lr"]) == 4
        assert all(s < float("inf") for s in r["steps"])
    report = (run_dir / "report.md").read_text()
    assert "## Fits" in report and "## Per batch size" in report
    assert len(json.loads((run_dir / "criteria.json").read_text())) == 4


def test_smoke_run_is_deterministic(smoke_run: Result, tmp_path: Path) -> None:
    again = run(PRESETS["smoke"], tmp_path)

    def strip(s: dict) -> dict:
        return {k: v for k, v in s.items() if k != "wall_time_s"}

    assert strip(again.summary) == strip(smoke_run.summary)


def _opt(slope: float, small: float, large: float, b_crit: float) -> dict:
    fit = {"s_min": 10.0, "b_crit": b_crit, "e_min": 10 * b_crit, "max_rel_err": 0.1}
    return {
        "lr_slope": slope,
        "steps_slope_small": small,
        "steps_slope_large": large,
        "fit": fit,
    }


def test_criteria_judge_the_summary() -> None:
    good = {
        "sgd": _opt(1.0, -1.0, -0.1, 10),
        "momentum": _opt(1.0, -0.95, -0.1, 30),
        "adam": _opt(0.5, -0.9, -0.2, 60),
    }
    record = RunRecord(Path("."), {}, [], {"optimizers": good})
    verdicts = [c(record) for c in NQM.criteria]
    assert all(v.passed for v in verdicts)
    assert "adam/sgd 6.00" in verdicts[3].measured
    bad = {**good, "adam": _opt(0.7, -0.9, -0.6, 5)}
    verdicts = [c(RunRecord(Path("."), {}, [], {"optimizers": bad})) for c in NQM.criteria]
    assert [v.passed for v in verdicts] == [True, False, False, False]
