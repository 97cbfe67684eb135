"""`dlc run nqm` end to end on the smoke preset, and the criteria on planted summaries."""

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from dlcurriculum.ch04_optimization.config import PRESETS as ALL_PRESETS
from dlcurriculum.ch04_optimization.experiments import NQM, run
from dlcurriculum.core import exercises
from dlcurriculum.core.config import ConfigError, to_dict
from dlcurriculum.core.experiment import Result, launch
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE, RunRecord, judge_run
from tests.mutations import counting_workspace

PRESETS = ALL_PRESETS["nqm"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Result:
    result, judgement = launch(NQM, PRESETS["smoke"], "smoke", tmp_path_factory.mktemp("runs"))
    assert judgement.status == SMOKE  # computed, not judged
    return result


def test_presets_and_validation() -> None:
    assert PRESETS["quick"].dim == 1000 and PRESETS["full"].dim == 10_000
    assert PRESETS["full"].n_batches > PRESETS["quick"].n_batches
    assert PRESETS["quick"].batch_sizes[0] == 1 / 4
    # the curriculum asks for a method that optimises schedules: every preset tunes them
    assert all(cfg.schedules for cfg in PRESETS.values())
    with pytest.raises(ConfigError, match="need slope_batches <= n_batches: got 9 > 4"):
        NQM.config("smoke", ["slope_batches=9"])
    with pytest.raises(ConfigError, match=r"largest batch size .* = 2\^31 is above 2\^30"):
        NQM.config("quick", ["n_batches=34"])


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
    judged = json.loads((run_dir / "criteria.json").read_text())
    assert judged["status"] == SMOKE and not judged["not_run"]
    assert [c["status"] in (PASS, FAIL) for c in judged["criteria"]] == [True] * 5  # all measured


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


def test_impl_run_calls_only_the_learners_exercises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every exercise an --impl run uses is the learner's: each of the learner's files marks
    that it was called, and the reference versions would raise if anything reached them."""
    folder = counting_workspace("ch04_optimization", tmp_path / "ws", monkeypatch)
    cfg = dataclasses.replace(PRESETS["smoke"], impl=str(tmp_path / "ws"))
    (tmp_path / "run").mkdir()
    run(cfg, tmp_path / "run")
    called = {p.stem for p in folder.glob("*.called")}
    assert called == {"nqm_expected_loss", "adam_step", "steps_to_target"}


def _study(small: float, large: float, b_crit: float, steps0: float, err: float = 0.2) -> dict:
    fit = {"s_min": 10.0, "b_crit": b_crit, "e_min": 10 * b_crit, "max_rel_err": err}
    return {"steps": [steps0, 10.0], "slope_small": small, "slope_large": large, "fit": fit}


def _opt(slope: float, small: float, large: float, b_crit: float, sched0: float, const0: float):  # type: ignore[no-untyped-def]
    """One optimiser's summary: its constant-lr study and its tuned-schedule study."""
    return {
        "lr_slope": slope,
        "constant": _study(-1.0, 0.0, b_crit, const0),
        "schedule": _study(small, large, b_crit, sched0),
    }


# the README's quick run: LR slopes, schedule slopes and B_crit, steps at B = 1/4
QUICK = {
    "sgd": _opt(0.974, -1.00, 0.00, 10.7, sched0=3965, const0=7705),
    "momentum": _opt(0.999, -0.99, 0.00, 59.2, sched0=3972, const0=7676),
    "adam": _opt(0.505, -0.98, 0.00, 150, sched0=2510, const0=2933),
}


def _judge(opts: dict, *sets: str, steps_from: str = "schedule"):  # type: ignore[no-untyped-def]
    config = {"experiment": "nqm", "preset": "quick", **to_dict(NQM.config("quick", sets))}
    summary = {"optimizers": opts, "steps_from": steps_from}
    return judge_run(RunRecord(Path("."), config, [], summary), NQM.criteria)


def _statuses(opts: dict, *sets: str) -> list[str]:
    return [v.status for _, v in _judge(opts, *sets).verdicts]


def test_criteria_pass_the_quick_run_the_readme_quotes() -> None:
    judged = _judge(QUICK)
    assert judged.status == PASS, judged
    measured = [v.measured for _, v in judged.verdicts]
    assert "momentum/sgd 5.53, adam/sgd 14.02" in measured[3]
    assert "sgd: 7705 → 3965 (49% fewer)" in measured[4] and "(14% fewer)" in measured[4]


def test_every_criterion_fails_on_a_broken_study() -> None:
    # SGD's noise not divided by B: the best lr does not grow with B, steps do not fall,
    # no critical batch size to speak of, and schedules no better than the constant rate
    broken = {
        name: _opt(0.05, -0.1, -0.6, 10.0, sched0=7000, const0=7100)
        for name in ("sgd", "momentum", "adam")
    }
    assert _statuses(broken) == [FAIL] * 5
    nan = float("nan")  # steps that never reached the target leave nan slopes and fits
    lost = {n: _opt(nan, nan, nan, nan, sched0=nan, const0=nan) for n in QUICK}
    assert _statuses(lost) == [FAIL] * 5
    # momentum only as good as SGD; a fit too poor to trust; Adam's schedule gains 5%
    assert _statuses({**QUICK, "momentum": _opt(0.999, -0.99, 0.0, 12, 3972, 7676)})[3] == FAIL
    poor = {**QUICK, "adam": {**QUICK["adam"], "schedule": _study(-0.98, 0.0, 150, 2510, 0.8)}}
    assert _statuses(poor)[3] == FAIL
    adam = {**QUICK, "adam": _opt(0.505, -0.98, 0.0, 150, sched0=2786, const0=2933)}
    assert _statuses(adam)[4] == FAIL
    assert _statuses({}) == [NOT_MEASURED] * 5  # an interrupted run


def test_without_schedules_their_criterion_is_not_run_and_labels_follow_the_config() -> None:
    constant = _judge(QUICK, "schedules=false", steps_from="constant")
    assert len(constant.verdicts) == 4 and constant.status == PASS
    assert constant.not_run == [
        (NQM.criteria[4].label(to_dict(PRESETS["quick"])), "--set schedules=true")
    ]
    sets = ("min_b_crit_ratio=6", "max_fit_error=0.1", "min_schedule_gain=0.2", "slope_batches=3")
    judged = _judge(QUICK, *sets)
    labels = [label for label, _ in judged.verdicts]
    assert "over the 3 smallest batch sizes" in labels[0]
    assert "≥ 6 × SGD's" in labels[3] and "within 10% of every point" in labels[3]
    assert "≥ 20% fewer steps" in labels[4]
    # momentum is 5.5x SGD (< 6) and the fits are 20% off (> 10%); Adam's schedule gains 14%
    assert [v.status for _, v in judged.verdicts][3:] == [FAIL, FAIL]
