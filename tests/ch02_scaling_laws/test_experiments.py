"""The scaling study end to end on real MNIST (smoke presets), in a real process pool."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch02_scaling_laws import experiments, train
from dlcurriculum.ch02_scaling_laws.config import PRESETS as ALL_PRESETS
from dlcurriculum.ch02_scaling_laws.config import ScalingConfig
from dlcurriculum.ch02_scaling_laws.experiments import SCALING
from dlcurriculum.ch02_scaling_laws.flop_counter import measured_flops
from dlcurriculum.core import sweep
from dlcurriculum.core.config import to_dict
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import Result, launch
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE, RunRecord, judge_run

PRESETS = ALL_PRESETS["scaling"]


def test_presets_cover_the_exercise_grid() -> None:
    quick, full = PRESETS["quick"], PRESETS["full"]
    assert quick.widths == (2, 3, 4, 6, 8, 11) and full.widths[-1] == 32
    assert quick.train_sizes == (50_000, 25_000, 12_500, 6_250, 3_125, 1_562)
    assert len(quick.widths) >= 5 and len(quick.train_sizes) >= 5 and quick.seeds >= 2
    assert len(full.widths) >= 7 and len(full.train_sizes) >= 7 and full.seeds >= 3
    assert all(cfg.dropouts == (0.0, 0.2) for cfg in PRESETS.values())
    assert len(experiments.grid_cells(quick)) == 6 * 6 * 2 * 2
    with pytest.raises(DlcError, match="min_width"):
        SCALING.config("smoke", ["min_width=1"])
    with pytest.raises(DlcError, match="at least one batch"):
        SCALING.config("smoke", ["n_fractions=6"])
    # a huge count is refused at once (2^(n - 1) is never computed)
    with pytest.raises(DlcError, match=r"2\^99999999999 = 0 < batch_size=64"):
        SCALING.config("smoke", ["n_fractions=100000000000"])
    with pytest.raises(DlcError, match=r"^--set size_exponent_range=0.1,0.2,0.3: expected 2"):
        SCALING.config("smoke", ["size_exponent_range=0.1,0.2,0.3"])
    with pytest.raises(DlcError, match=r"^bootstrap must be >= 10, got 9"):
        SCALING.config("smoke", ["bootstrap=9"])


def test_a_cell_is_deterministic_and_counts_its_compute(tmp_path: Path) -> None:
    params = {
        "width": 3,
        "train_size": 256,
        "seed": 7,
        "dropout": 0.2,
        "lr": 0.01,
        "batch_size": 64,
        "evaluate_on": "test",
        "device": "cpu",
        "impl": "",
    }
    a, b = train.train_cell(params, tmp_path), train.train_cell(params, tmp_path)
    assert {k: v for k, v in a.items() if k != "train_s"} == {
        k: v for k, v in b.items() if k != "train_s"
    }
    assert a["forward_flops"] == measured_flops(CNN(width=3))
    assert a["examples"] == 256 and a["compute"] == 3 * a["forward_flops"] * 256
    untrained = train.train_cell({**params, "lr": 0.0}, tmp_path)  # the init, evaluated
    assert a["val_loss"] < untrained["val_loss"]  # four Adam steps already help


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Result:
    result, _ = launch(SCALING, PRESETS["smoke"], "smoke", tmp_path_factory.mktemp("runs"))
    return result


def test_smoke_study_writes_the_run_folder_and_report(smoke_run: Result) -> None:
    run_dir = smoke_run.run_dir
    for name in ("config.json", "summary.json", "report.md", "criteria.json", "grid/sweep.json"):
        assert (run_dir / name).exists(), name
    figures = {p.name for p in (run_dir / "figures").iterdir()}
    assert figures == {
        "loss_vs_compute.png",
        "error_vs_compute.png",
        "optimal_size.png",
        "loss_vs_data_and_width.png",
        "exponents.png",
    }
    table = (run_dir / "grid" / sweep.TABLE).read_text().splitlines()
    assert len(table) == 1 + 16 and "val_loss" in table[0]
    summary = smoke_run.summary
    assert summary["cells"] == summary["expected_cells"] == 16
    assert set(summary["fits"]) == {"0", "0.2"}
    report = (run_dir / "report.md").read_text()
    for text in ("## Fitted laws", "## With and without dropout", "R² (log)", "scaled as 1/sqrt"):
        assert text in report
    judged = json.loads((run_dir / "criteria.json").read_text())
    assert judged["status"] == SMOKE and len(judged["criteria"]) == 4  # computed, not judged
    assert judged["criteria"][0]["status"] == PASS  # every cell trained
    # 2 widths x 2 fractions still give 3 frontier runs per condition: every fit is measured
    assert all(c["status"] in (PASS, FAIL) for c in judged["criteria"]), judged


def test_rerun_skips_done_cells_and_report_refits_the_same(smoke_run: Result) -> None:
    run_dir = smoke_run.run_dir
    rows = sorted((run_dir / "grid" / sweep.ROWS).iterdir())
    stamps = [p.stat().st_mtime_ns for p in rows]
    again = experiments.run(PRESETS["smoke"], run_dir)
    assert [p.stat().st_mtime_ns for p in rows] == stamps  # nothing retrained
    assert again.summary["fits"] == smoke_run.summary["fits"]
    before = (run_dir / "criteria.json").read_text()
    SCALING.report(run_dir)  # what `dlc report DIR` does: refit and redraw only
    assert (run_dir / "criteria.json").read_text() == before


def test_planned_commands_give_the_same_rows_as_the_local_pool(
    smoke_run: Result, tmp_path: Path
) -> None:
    """Cells run by the plan's commands (two processes at once, as on a cluster) and the
    rest by a local pool give exactly the rows of the all-local run."""
    lines = SCALING.plan(PRESETS["smoke"], tmp_path)
    commands = [line for line in lines if not line.startswith("#")]
    assert commands[-1] == f"dlc run scaling --resume {tmp_path.resolve()}"
    assert len(commands) == 1 + 16 and "--cell 0" in commands[0]
    here = [c.replace("python", sys.executable, 1) for c in commands[:2]]  # this interpreter
    procs = [subprocess.Popen(c, shell=True, stderr=subprocess.PIPE) for c in here]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read().decode() if p.stderr else ""
    assert sweep.pending(tmp_path / "grid") == list(range(2, 16))
    experiments.run(PRESETS["smoke"], tmp_path)

    def losses(run_dir: Path) -> list[tuple[float, float]]:
        return [(r["val_loss"], r["compute"]) for r in sweep.read_rows(run_dir / "grid")]

    assert losses(tmp_path) == losses(smoke_run.run_dir)


def test_tuned_learning_rates_come_from_the_held_out_search(tmp_path: Path) -> None:
    cfg = ScalingConfig(
        n_widths=2,
        n_fractions=1,
        pool_size=512,
        dropouts=(0.0,),
        lr_mode="tuned",
        lr_factors=(0.25, 4.0),
        bootstrap=10,
        workers=2,
    )
    stages = experiments.prepare(cfg, tmp_path)
    assert [label for label, _ in stages] == ["lr search", "grid"]
    with pytest.raises(DlcError, match="0/4 cells done"):
        train.tuned_lr(tmp_path / "tune", 2, 0.0)
    plan = SCALING.plan(cfg, tmp_path)
    assert plan[0].startswith("# stage 1, lr search: 4") and "once stage 1 has finished" in plan[5]
    experiments.run(cfg, tmp_path)
    search = sweep.read_rows(tmp_path / "tune")
    assert {r["evaluate_on"] for r in search} == {"tune"}
    for row in sweep.read_rows(tmp_path / "grid"):
        mine = [r for r in search if r["width"] == row["width"]]
        assert row["lr"] == min(mine, key=lambda r: r["val_loss"])["lr"]
        assert row["lr_from"] == "../tune"


def _record(fits: dict, *sets: str, cells: int = 144) -> RunRecord:
    """A quick run's record (judged, unlike smoke) with `--set` assignments applied."""
    config = {"experiment": "scaling", "preset": "quick"}
    config |= to_dict(SCALING.config("quick", sets))
    summary = {"cells": cells, "expected_cells": 144, "fits": fits}
    return RunRecord(Path("."), config, [], summary)


def _law(exponent: float | None, ci: list | None = None, r2: float | None = 0.96) -> dict:
    return {"exponent": exponent, "r2": r2, "ci": ci, "points": 5}


def _statuses(fits: dict, *sets: str, cells: int = 144) -> list[str]:
    judged = judge_run(_record(fits, *sets, cells=cells), SCALING.criteria)
    return [v.status for _, v in judged.verdicts]


# the README's quick run (frontier α, optimal-size β from the frontier's runs)
NO_DROPOUT = {"frontier": _law(0.714, [0.703, 0.731]), "optimal_size": _law(0.39, [0.37, 0.43])}
DROPOUT = {"frontier": _law(0.647, [0.644, 0.665]), "optimal_size": _law(0.42, [0.41, 0.44])}
QUICK = {"0": NO_DROPOUT, "0.2": DROPOUT}


def test_criteria_pass_the_quick_run_the_readme_quotes() -> None:
    judged = judge_run(_record(QUICK), SCALING.criteria)
    assert [v.status for _, v in judged.verdicts] == [PASS] * 4 and judged.status == PASS
    size, dropout = judged.verdicts[2][1], judged.verdicts[3][1]
    assert size.measured == "β = 0.39, 95% CI [0.37, 0.43] (width 0.06)"
    assert "dropout 0.2: α = 0.647 [0.644, 0.665]" in dropout.measured
    assert "Δα(0.2) = -0.067" in dropout.measured


def test_every_criterion_fails_or_is_unmeasured_on_broken_studies() -> None:
    # an unfinished grid, flat laws, a nonsense exponent, intervals too wide to say anything
    broken = {
        "0": {
            "frontier": _law(0.01, [-0.3, 0.4], r2=0.3),
            "optimal_size": _law(-0.2, [-0.25, -0.15]),  # bigger budgets, smaller models
        },
        "0.2": {**DROPOUT, "frontier": _law(0.6, [0.3, 0.9], r2=0.95)},
    }
    assert _statuses(broken, cells=100) == [FAIL] * 4
    assert _statuses(QUICK, "seeds=1") == [FAIL, PASS, PASS, PASS]  # no seeds to resample
    for beta, ci in [
        (1.2, [1.15, 1.25]),  # a bigger budget buys less data
        (0.0, [-0.01, 0.01]),
        (0.5, [0.2, 0.8]),  # plausible, but the interval is far too wide
        (0.5, [0.5, 0.5]),  # degenerate: every resample picked the same runs
    ]:
        fits = {**QUICK, "0": {**NO_DROPOUT, "optimal_size": _law(beta, ci)}}
        assert _statuses(fits)[2] == FAIL, (beta, ci)
    # fits that could not be made are not measured, never passed
    unfit = {d: {"frontier": _law(None, r2=None), "optimal_size": _law(None)} for d in QUICK}
    assert _statuses(unfit) == [PASS, NOT_MEASURED, NOT_MEASURED, NOT_MEASURED]
    no_interval = {d: {k: _law(f["exponent"]) for k, f in by.items()} for d, by in QUICK.items()}
    assert _statuses(no_interval)[2:] == [NOT_MEASURED, NOT_MEASURED]  # one seed: no CI
    # the dropout repeat is part of the exercise: without it, the comparison is unmeasured
    assert _statuses({"0": NO_DROPOUT})[3] == NOT_MEASURED
    assert _statuses({"0.2": DROPOUT})[2:] == [NOT_MEASURED, NOT_MEASURED]
    assert _statuses({}, cells=0) == [FAIL, NOT_MEASURED, NOT_MEASURED, NOT_MEASURED]


def test_labels_show_the_bars_set_on_the_command_line() -> None:
    sets = ("min_r2=0.97", "max_exponent_ci_width=0.05", "size_exponent_range=0.45,0.8")
    judged = judge_run(_record(QUICK, *sets), SCALING.criteria)
    labels = [label for label, _ in judged.verdicts]
    assert "R² ≥ 0.97" in labels[1] and "0.45 ≤ β ≤ 0.8" in labels[2]
    assert "width ≤ 0.05" in labels[2] and "width ≤ 0.05" in labels[3]
    # R² 0.957 < 0.97; β = 0.39 < 0.45 and its CI (0.06) > 0.05; the α CIs (0.028, 0.021) fit
    assert [v.status for _, v in judged.verdicts] == [PASS, FAIL, FAIL, PASS]
    with pytest.raises(DlcError, match="size_exponent_range"):
        SCALING.config("quick", ["size_exponent_range=0.9,0.2"])
