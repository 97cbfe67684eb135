"""The adv-mnist experiment end to end on its smoke preset, and its criteria."""

import json

from dlcurriculum.ch09_adversarial_training.experiments import ADV_MNIST, _masking_criterion
from dlcurriculum.core.experiment import launch
from dlcurriculum.core.report import RunRecord


def test_smoke_run_writes_table_figures_and_report(tmp_path) -> None:
    cfg = ADV_MNIST.config("smoke")
    result, verdicts = launch(ADV_MNIST, cfg, "smoke", tmp_path)
    models = result.summary["models"]
    assert set(models) == {"standard", "pgd", "fast"}
    for m in models.values():
        assert set(m["eps"]) == {str(e) for e in cfg.epsilons}
        for row in m["eps"].values():
            assert set(row) == {"fgsm", "pgd_short", "pgd"}
    assert dict(verdicts)["PGD stays in the eps-ball and in [0, 1]"].passed
    assert (result.run_dir / "figures" / "adversarial_examples.png").exists()
    assert "Robustness table" in (result.run_dir / "report.md").read_text()
    keys = {k for row in map(json.loads, (result.run_dir / "metrics.jsonl").open()) for k in row}
    assert {"pgd/losses/train", "fast/train/accuracy", "standard/eps"} <= keys


def test_masking_criterion_flags_pgd_weaker_than_fgsm(tmp_path) -> None:
    row = {"fgsm": 0.5, "pgd_short": 0.7, "pgd": 0.7}
    record = RunRecord(
        tmp_path, {"masking_tol": 0.005}, [], {"models": {"m": {"eps": {"0.3": row}}}}
    )
    assert not _masking_criterion(record).passed
    row |= {"pgd": 0.4, "pgd_short": 0.45}
    assert _masking_criterion(record).passed
