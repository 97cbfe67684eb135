"""The adv-mnist experiment end to end on its smoke preset (criteria computed, not judged),
and the same seed giving the same run."""

import json
from dataclasses import replace

import pytest

from dlcurriculum.ch09_adversarial_training.experiments import ADV_MNIST, run_adv_mnist
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.experiment import launch
from dlcurriculum.core.report import FAIL, PASS, SMOKE


def test_smoke_run_writes_table_figures_and_report(tmp_path) -> None:
    cfg = ADV_MNIST.config("smoke")
    result, judgement = launch(ADV_MNIST, cfg, "smoke", tmp_path)
    models = result.summary["models"]
    assert set(models) == {"standard", "pgd", "fast"}
    for m in models.values():
        assert set(m["eps"]) == {str(e) for e in cfg.epsilons}
        for row in m["eps"].values():
            assert set(row) == {"fgsm", "pgd_short", "pgd"}
    # a smoke run is not judged, but each criterion is measured; the constraint holds for
    # any model, however little trained
    assert judgement.status == SMOKE and len(judgement.verdicts) == len(ADV_MNIST.criteria)
    assert all(v.status in (PASS, FAIL) for _, v in judgement.verdicts), judgement
    assert judgement.verdicts[-1][1].status == PASS
    assert (result.run_dir / "figures" / "adversarial_examples.png").exists()
    report = (result.run_dir / "report.md").read_text()
    assert "Robustness table" in report and "SMOKE run, not judged" in report
    keys = {k for row in map(json.loads, (result.run_dir / "metrics.jsonl").open()) for k in row}
    assert {"pgd/losses/train", "fast/train/accuracy", "standard/eps"} <= keys


def test_same_seed_gives_the_same_run(tmp_path) -> None:
    """Training (three models, PGD and fast AT) and every attack are seeded: two runs agree
    to the bit, in metrics.jsonl and in the robustness table; another seed does not."""
    tiny = replace(ADV_MNIST.config("smoke"), width=4, train_size=256, test_size=32,
                   epsilons=(0.3,), pgd_steps=2, short_steps=1, restarts=1)  # fmt: skip
    runs = {}
    for name, cfg in (("a", tiny), ("b", tiny), ("other", replace(tiny, seed=1))):
        (tmp_path / name).mkdir()
        result = run_adv_mnist(cfg, tmp_path / name)
        tables = {m: {k: v for k, v in r.items() if k != "train_time_s"}
                  for m, r in result.summary["models"].items()}  # fmt: skip
        runs[name] = (tmp_path / name / "metrics.jsonl").read_bytes(), tables
    assert runs["a"][0] and runs["a"] == runs["b"]
    assert runs["other"][0] != runs["a"][0]


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["batch_size=2048"], r"train_size \(1024\) must be at least batch_size \(2048\)"),
        (["short_steps=5"], r"short_steps \(5\) must be at most pgd_steps \(4\)"),
        (["train_eps=0"], r"train_eps must be in \(0, 1\], got 0.0"),
    ],
)
def test_adv_mnist_config_refuses_what_it_cannot_run_with(
    assignments: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ADV_MNIST.config("smoke", assignments)
