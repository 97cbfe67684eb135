"""End-to-end smoke run of `dlc run contrastive` on real MNIST."""

from pathlib import Path

from dlcurriculum.ch05_modeling_objectives.experiments import CONTRASTIVE, CONTRASTIVE_PRESETS
from dlcurriculum.core.experiment import launch, resume
from dlcurriculum.core.runs import read_metrics


def test_smoke_run_writes_report_and_passes(tmp_path: Path) -> None:
    result, verdicts = launch(CONTRASTIVE, CONTRASTIVE_PRESETS["smoke"], "smoke", tmp_path)
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
    acc = result.summary["accuracy"]
    assert {"raw pixels", "simclr", "supcon", "supervised CNN (support only)"} <= set(acc)
    assert all(v.passed for _, v in verdicts), verdicts
    assert "Few-shot accuracy" in (run_dir / "report.md").read_text()


def test_smoke_is_deterministic_and_resumes(tmp_path: Path) -> None:
    cfg = CONTRASTIVE.config("smoke", ["objectives=simclr", "baselines=false"])
    a, _ = launch(CONTRASTIVE, cfg, "smoke", tmp_path / "a")
    b, _ = launch(CONTRASTIVE, cfg, "smoke", tmp_path / "b")
    assert read_metrics(a.run_dir) == read_metrics(b.run_dir)
    # an interrupted run with its objective checkpointed finishes without retraining
    (b.run_dir / "summary.json").unlink()
    c, _ = resume(CONTRASTIVE, b.run_dir)
    assert c.summary["accuracy"] == a.summary["accuracy"]
    assert read_metrics(c.run_dir) == read_metrics(a.run_dir)


def test_triplet_objective_trains_and_unjudged_criteria_fail_cleanly(tmp_path: Path) -> None:
    cfg = CONTRASTIVE.config("smoke", ["objectives=triplet", "baselines=false"])
    result, verdicts = launch(CONTRASTIVE, cfg, "smoke", tmp_path)
    assert result.summary["accuracy"]["triplet"]["10"] > 0.2  # chance is 0.1
    assert not dict(verdicts)["SimCLR (no labels) few-shot accuracy at k = 10"].passed
    assert (result.run_dir / "figures" / "neighbours_triplet.png").exists()
