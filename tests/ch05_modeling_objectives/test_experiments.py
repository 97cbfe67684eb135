"""End-to-end smoke run of `dlc run contrastive` on real MNIST."""

from pathlib import Path

import pytest

from dlcurriculum.ch05_modeling_objectives.config import PRESETS, ContrastiveConfig
from dlcurriculum.ch05_modeling_objectives.experiments import (
    CONTRASTIVE,
)
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.experiment import launch, resume
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE
from dlcurriculum.core.runs import latest_checkpoint, load_checkpoint, read_metrics


def test_smoke_run_writes_report_and_computes_its_criteria(tmp_path: Path) -> None:
    result, judgement = launch(CONTRASTIVE, PRESETS["contrastive"]["smoke"], "smoke", tmp_path)
    run_dir = result.run_dir
    for name in (
        "metrics.jsonl",
        "summary.json",
        "report.md",
        "figures/loss.png",
        "figures/embedding_pca.png",
        "figures/neighbours_simclr.png",
        "views/supcon.pt",
    ):
        assert (run_dir / name).exists(), name
    assert list((run_dir / "checkpoints").glob("step_*.pt"))
    keys = set().union(*read_metrics(run_dir))
    assert {"losses/simclr", "losses/supcon", "eval/simclr_k10", "eval/supcon_k1"} <= keys
    assert {"eval/val_simclr_k10", "eval/val_supcon_k1"} <= keys
    acc = result.summary["accuracy"]
    assert {"raw pixels", "simclr", "supcon", "supervised CNN (support only)"} <= set(acc)
    val = result.summary["validation"]
    assert set(val) == {
        "raw pixels",
        "simclr",
        "simclr (trunk features)",
        "supcon",
        "supcon (trunk features)",
    }
    # validation and test are different queries: the figures differ
    assert val["simclr"] != acc["simclr"]
    # a smoke run is not judged, but its criteria are computed (no budget: the time is N/A)
    assert judgement.status == SMOKE
    statuses = [v.status for _, v in judgement.verdicts]
    assert set(statuses[:3]) <= {PASS, FAIL}, statuses
    assert statuses[3] == NOT_MEASURED
    report = (run_dir / "report.md").read_text()
    assert "Few-shot accuracy" in report and "Validation accuracy" in report


def test_smoke_is_deterministic_and_resumes(tmp_path: Path) -> None:
    cfg = CONTRASTIVE.config("smoke", ["objectives=simclr", "baselines=false"])
    a, _ = launch(CONTRASTIVE, cfg, "smoke", tmp_path / "a")
    b, _ = launch(CONTRASTIVE, cfg, "smoke", tmp_path / "b")
    assert read_metrics(a.run_dir) == read_metrics(b.run_dir)
    # an interrupted run with its objective checkpointed finishes without retraining
    (b.run_dir / "summary.json").unlink()
    c, _ = resume(CONTRASTIVE, b.run_dir)
    assert c.summary["accuracy"] == a.summary["accuracy"]
    assert c.summary["validation"] == a.summary["validation"]
    assert read_metrics(c.run_dir) == read_metrics(a.run_dir)
    # the resumed run's wall time counts the checkpointed work, not only the resumed piece
    saved = load_checkpoint(latest_checkpoint(b.run_dir))["state"]
    assert c.summary["resumed"] and c.summary["wall_time_s"] >= saved["elapsed_s"] > 0


def test_validation_queries_cannot_overlap_the_training_images() -> None:
    with pytest.raises(ConfigError, match="train_size \\+ val_size must be at most 60000"):
        ContrastiveConfig(train_size=56_000, val_size=5_000)
    quick = PRESETS["contrastive"]["quick"]
    assert quick.val_size > 0 and quick.train_size + quick.val_size <= 60_000


def test_triplet_objective_trains_and_simclr_supcon_criteria_are_not_measured(
    tmp_path: Path,
) -> None:
    cfg = CONTRASTIVE.config("smoke", ["objectives=triplet", "baselines=false"])
    result, judgement = launch(CONTRASTIVE, cfg, "smoke", tmp_path)
    assert result.summary["accuracy"]["triplet"]["10"] > 0.2  # chance is 0.1
    assert [v.status for _, v in judgement.verdicts] == [NOT_MEASURED] * 4
    assert (result.run_dir / "figures" / "neighbours_triplet.png").exists()


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["ks=1,2"], r"ks must include 10"),
        (["objectives="], r"objectives must not be empty"),
        (["objectives=simclr,byol"], r"objectives must be one of simclr, supcon, triplet"),
        (["ks=10,200"], r"train_size \(2048\) must hold the support set of 10 \* max\(ks\) = 2000"),
    ],
)
def test_contrastive_config_refuses_fields_that_do_not_fit_together(
    assignments: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        CONTRASTIVE.config("smoke", assignments)
