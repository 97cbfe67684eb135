"""The scaling study end to end on real MNIST (smoke presets), in a real process pool."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch02_scaling_laws import experiments, train
from dlcurriculum.ch02_scaling_laws.experiments import PRESETS, SCALING, ScalingConfig
from dlcurriculum.ch02_scaling_laws.flops import measured_flops
from dlcurriculum.core import sweep
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import Result, launch
from dlcurriculum.core.report import RunRecord


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
    assert 0 < a["val_loss"] < 3 and 0 <= a["val_accuracy"] <= 1


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
    verdicts = json.loads((run_dir / "criteria.json").read_text())
    assert len(verdicts) == 4 and verdicts[0]["passed"]  # every cell trained


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


def _record(fits: dict, cells: int = 144, seeds: int = 2) -> RunRecord:
    config = {"seeds": seeds, "min_r2": 0.9}
    summary = {"cells": cells, "expected_cells": 144, "fits": fits}
    return RunRecord(Path("."), config, [], summary)


def _law(exponent: float | None, r2: float | None = 0.95, ci: list | None = None) -> dict:
    return {"exponent": exponent, "r2": r2, "ci": ci, "points": 5}


def test_criteria_judge_the_summary() -> None:
    good = {"frontier": _law(0.7), "optimal_size": _law(0.4, ci=[0.35, 0.45])}
    fits = {"0": good, "0.2": {**good, "frontier": _law(0.6, r2=0.85)}}
    complete, r2, size, dropout = (c(_record(fits)) for c in SCALING.criteria)
    assert complete.passed and dropout.passed
    assert not r2.passed and "dropout 0.2: 0.850" in r2.measured  # one R² < 0.9
    assert size.measured == "β = 0.40, 95% CI [0.35, 0.45] (width 0.10)" and size.passed
    assert not SCALING.criteria[0](_record(fits, cells=100)).passed
    assert not SCALING.criteria[0](_record(fits, seeds=1)).passed
    flat = {"0": {**good, "optimal_size": _law(0.4, ci=[0.4, 0.4])}}
    degenerate = SCALING.criteria[2](_record(flat))
    assert not degenerate.passed and "degenerate" in degenerate.measured
    assert not SCALING.criteria[3](_record(flat)).passed  # no dropout repeat
