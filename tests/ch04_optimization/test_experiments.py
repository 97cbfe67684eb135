"""`dlc run nqm` end to end on the smoke preset, and the criteria on planted summaries."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from dlcurriculum.ch04_optimization.experiments import NQM, PRESETS, run
from dlcurriculum.core import exercises
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
    assert PRESETS["quick"].batch_sizes[0] == 1 / 4 and PRESETS["quick"].schedules
    with pytest.raises(DlcError, match="invalid config"):
        NQM.config("smoke", ["slope_batches=9"])


def test_smoke_run_writes_report_figures_and_summary(smoke_run: Result) -> None:
    run_dir = smoke_run.run_dir
    for name in ("config.json", "summary.json", "report.md", "criteria.json", "metrics.jsonl"):
        assert (run_dir / name).exists(), name
    figures = {p.name for p in (run_dir / "figures").iterdir()}
    assert figures == {"lr_vs_batch.png", "steps_vs_batch.png", "tradeoff.png", "loss_curves.png"}
    opts = smoke_run.summary["optimizers"]
    assert set(opts) == {"sgd", "momentum", "adam"}
    for name, r in opts.items():
        assert len(r["constant"]["steps"]) == len(r["best_lr"]) == len(r["schedule"]["params"]) == 4
        assert all(s < float("inf") for s in r["constant"]["steps"])
        # three batch sizes, constant and scheduled: Adam's curves are in the figure too
        assert len(r["curves"]) == 6 and all(k.startswith(name) for k in r["curves"])
    sgd = opts["sgd"]
    assert sgd["schedule"]["steps"][0] < sgd["constant"]["steps"][0]  # exact: no noise
    report = (run_dir / "report.md").read_text()
    assert "## Fits" in report and "## Per batch size" in report and "B_noise" in report
    assert len(json.loads((run_dir / "criteria.json").read_text())) == 5


def test_smoke_run_is_deterministic(smoke_run: Result, tmp_path: Path) -> None:
    again = run(PRESETS["smoke"], tmp_path)

    def strip(s: dict) -> str:  # as JSON text, where NaN (a slope through inf) equals NaN
        return json.dumps({k: v for k, v in s.items() if k != "wall_time_s"}, sort_keys=True)

    assert strip(again.summary) == strip(smoke_run.summary)


def test_impl_workspace_runs_the_learners_functions(smoke_run: Result, tmp_path: Path) -> None:
    """Skeleton: stops at a stub. Reference copy: same results. A wrong recursion: SGD differs."""
    slug = "ch04_optimization"
    cfg = dataclasses.replace(PRESETS["smoke"], schedules=False)
    exercises.start(slug, tmp_path / "skeleton")
    for name in "abcd":
        (tmp_path / name).mkdir()
    with pytest.raises(NotImplementedError):
        run(dataclasses.replace(cfg, impl=str(tmp_path / "skeleton")), tmp_path / "a")
    solved = tmp_path / "solved" / slug
    solved.mkdir(parents=True)
    for module in ("nqm", "search"):
        shutil.copy(exercises.reference_path(slug, module), solved / f"{module}.py")
    reference = run(cfg, tmp_path / "b").summary["optimizers"]
    same = run(dataclasses.replace(cfg, impl=str(tmp_path / "solved")), tmp_path / "c")
    assert same.summary["optimizers"]["sgd"] == reference["sgd"]
    source = (solved / "nqm.py").read_text()
    assert "lr**2 * c / batch_size" in source
    (solved / "nqm.py").write_text(source.replace("lr**2 * c / batch_size", "lr**2 * c"))
    wrong = run(dataclasses.replace(cfg, impl=str(tmp_path / "solved")), tmp_path / "d")
    # B <= 1 here, so forgetting to divide the noise by B lowers the noise: fewer steps
    got, ref = wrong.summary["optimizers"]["sgd"], reference["sgd"]
    assert got["constant"]["steps"][0] < ref["constant"]["steps"][0]


def _study(small: float, large: float, b_crit: float, steps0: float) -> dict:
    fit = {"s_min": 10.0, "b_crit": b_crit, "e_min": 10 * b_crit, "max_rel_err": 0.1}
    return {"steps": [steps0, 10.0], "slope_small": small, "slope_large": large, "fit": fit}


def _opt(slope: float, small: float, large: float, b_crit: float, sched0: float = 80) -> dict:
    return {
        "lr_slope": slope,
        "constant": _study(-1.0, 0.0, 1.0, 100),
        "schedule": _study(small, large, b_crit, sched0),
    }


def _verdicts(opts: dict) -> list:
    record = RunRecord(Path("."), {}, [], {"optimizers": opts, "steps_from": "schedule"})
    return [c(record) for c in NQM.criteria]


def test_criteria_judge_the_summary() -> None:
    good = {
        "sgd": _opt(1.0, -1.0, -0.1, 10),
        "momentum": _opt(1.0, -0.95, -0.1, 30),
        "adam": _opt(0.5, -0.9, -0.2, 60),
    }
    verdicts = _verdicts(good)
    assert all(v.passed for v in verdicts)
    assert "adam/sgd 6.00" in verdicts[3].measured and "0.80x" in verdicts[4].measured
    bad = {**good, "adam": _opt(0.7, -0.9, -0.6, 5, sched0=120)}
    assert [v.passed for v in _verdicts(bad)] == [True, False, False, False, False]
    record = RunRecord(Path("."), {}, [], {"optimizers": good, "steps_from": "constant"})
    assert not NQM.criteria[4](record).passed  # schedules not run: that criterion is unmet
