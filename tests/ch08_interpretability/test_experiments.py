"""The chapter's three experiments end to end on their smoke presets."""

import json

import pytest

from dlcurriculum.ch08_interpretability import experiments as ex
from dlcurriculum.core.experiment import launch
from dlcurriculum.core.runs import read_metrics


def _launch(spec, tmp_path, *assignments):
    result, verdicts = launch(spec, spec.config("smoke", assignments), "smoke", tmp_path)
    report = (result.run_dir / "report.md").read_text()
    for figure in (result.run_dir / "figures").glob("*.png"):
        assert figure.stat().st_size > 1000 and f"figures/{figure.name}" in report
    assert len(verdicts) == len(spec.criteria)
    assert json.loads((result.run_dir / "criteria.json").read_text())
    return result, verdicts, report


def test_interp_mnist_smoke(tmp_path):
    result, _verdicts, report = _launch(ex.INTERP_MNIST, tmp_path)
    s = result.summary
    assert len(list((result.run_dir / "figures").glob("*.png"))) == 6
    assert {"deletion_auc/random", "insertion_auc/integrated_gradients"} <= set(s)
    assert 0 <= s["ig_completeness_max_error"] < 0.2
    assert "Case study: the logit of digit 7" in report and "Causal test" in report
    assert "when it fails on MNIST" in report
    # the CNN trained inside the run is saved, so the run can be redone from a checkpoint
    again, _ = launch(
        ex.INTERP_MNIST,
        ex.INTERP_MNIST.config("smoke", [f"checkpoint={result.run_dir / 'cnn' / 'model.pt'}"]),
        "smoke",
        tmp_path,
    )
    assert again.summary["test_accuracy"] == pytest.approx(s["test_accuracy"])


def test_induction_heads_smoke_is_deterministic(tmp_path):
    first, _verdicts, report = _launch(ex.INDUCTION, tmp_path / "a")
    second, _, _ = _launch(ex.INDUCTION, tmp_path / "b")
    assert read_metrics(first.run_dir) == read_metrics(second.run_dir)
    s = first.summary
    assert len(s["induction_scores"]) == 2 and 0 <= s["best_induction_score"] <= 1
    assert "K-composition" in report and "In-context learning score" in report
    assert (first.run_dir / "model.pt").exists()


@pytest.mark.parametrize("model", ["tiny-llama", "tiny-gpt2"])
def test_induction_lm_smoke_on_tiny_random_models(tmp_path, model):
    result, _verdicts, report = _launch(ex.INDUCTION_LM, tmp_path, f"model={model}")
    s = result.summary
    assert len(s["top_heads"]) == 3 and s["n_layers"] == 2
    assert "5.1, 5.5, 6.9, 7.2 and 7.10" in report
