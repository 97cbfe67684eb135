"""The chapter's three experiments end to end on their smoke presets: their criteria are
computed (a smoke run is not judged), and the reports are written."""

import json

import pytest

from dlcurriculum.ch08_interpretability import experiments as ex
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.experiment import launch
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE
from dlcurriculum.core.runs import read_metrics
from tests.mutations import counting_workspace

SLUG = "ch08_interpretability"


def _launch(spec, tmp_path, *assignments):
    result, judgement = launch(spec, spec.config("smoke", assignments), "smoke", tmp_path)
    report = (result.run_dir / "report.md").read_text()
    for figure in (result.run_dir / "figures").glob("*.png"):
        assert figure.stat().st_size > 1000 and f"figures/{figure.name}" in report
    assert judgement.status == SMOKE and len(judgement.verdicts) == len(spec.criteria)
    assert "SMOKE run, not judged" in report
    saved = json.loads((result.run_dir / "criteria.json").read_text())
    assert saved["status"] == SMOKE
    assert [c["status"] for c in saved["criteria"]] == [v.status for _, v in judgement.verdicts]
    return result, [v.status for _, v in judgement.verdicts], report


def test_interp_mnist_smoke(tmp_path):
    result, statuses, report = _launch(ex.INTERP_MNIST, tmp_path)
    assert all(st in (PASS, FAIL) for st in statuses), statuses  # every figure was measured
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
    first, statuses, report = _launch(ex.INDUCTION_HEADS, tmp_path / "a")
    second, _, _ = _launch(ex.INDUCTION_HEADS, tmp_path / "b")
    assert read_metrics(first.run_dir) == read_metrics(second.run_dir)
    s = first.summary
    # the ablation, composition and patching criteria are N/A exactly when no head reached
    # the induction threshold
    assert statuses[0] in (PASS, FAIL)
    for status in statuses[1:]:
        assert (status == NOT_MEASURED) == (not s["detected_induction_heads"]), statuses
    layer, head = s["best_induction_head"]
    assert len(s["induction_scores"]) == 2
    assert s["best_induction_score"] == s["induction_scores"][layer][head]
    assert s["best_induction_score"] == max(max(row) for row in s["induction_scores"])
    assert "K-composition" in report and "In-context learning score" in report
    assert (first.run_dir / "model.pt").exists()
    # the circuit: composition scores of the 4 (layer 0, layer 1) pairs against random ones,
    # and patching: every head, the induction heads together, per position
    assert len(s["k_composition_top"]) == 3 and s["composition_random_sd"] > 0
    assert s["composition_random_mean"] == pytest.approx(32**-0.5, rel=0.05)  # d_model 32
    assert len(s["patch_head_recovery"]) == 2 and len(s["patch_head_recovery"][0]) == 2
    assert len(s["patch_position_first_copy"]) == len(s["patch_position_heads"])
    assert "The circuit in the weights" in report and "The circuit in the activations" in report
    for figure in ("composition.png", "patching.png"):
        assert (first.run_dir / "figures" / figure).exists()


@pytest.mark.parametrize("model", ["tiny-llama", "tiny-gpt2"])
def test_induction_lm_smoke_on_tiny_random_models(tmp_path, model):
    result, statuses, report = _launch(ex.INDUCTION_LM, tmp_path, f"model={model}")
    # a random model barely prefers either answer, so there is nothing for patching to recover
    assert all(st in (PASS, FAIL) for st in statuses[:2]) and statuses[2] == NOT_MEASURED
    s = result.summary
    assert len(s["top_heads"]) == 3 and s["n_layers"] == 2
    assert "5.1, 5.5, 6.9, 7.2 and 7.10" in report
    # three top heads patched one more at a time, and three random other heads
    assert len(s["patch_cumulative_recovery"]) == 3 and len(s["patch_control_heads"]) == 3
    assert not {tuple(h) for h in s["patch_control_heads"]} & {
        tuple(h) for h in s["patch_top_heads"]
    }
    assert "Activation patching" in report and (result.run_dir / "figures/patching.png").exists()


def test_induction_lm_without_patching(tmp_path):
    result, statuses, report = _launch(ex.INDUCTION_LM, tmp_path, "patch_heads=0")
    assert statuses[2] == NOT_MEASURED and "patch_clean_logit_diff" not in result.summary
    assert "Not run (`patch_heads=0`)" in report


@pytest.mark.parametrize(
    ("spec", "assignments", "message"),
    [
        (
            ex.INDUCTION_HEADS,
            ["half_len=40"],
            r"2 \* half_len = 80 tokens must fit in seq_len \(64\)",
        ),
        (ex.INDUCTION_HEADS, ["seq_len=50", "half_len=2"], r"seq_len must be >= 51, got 50"),
        (ex.INDUCTION_HEADS, ["max_vocab=1"], r"max_vocab must be 0 \(no cap\) or at least 2"),
        (
            ex.INDUCTION_HEADS,
            ["max_chars=1000"],
            r"max_chars \(1000\) must be 0 \(all\) or at least",
        ),
        (ex.INTERP_MNIST, ["n_explain=2000"], r"n_explain \(2000\) must be at most test_size"),
        (ex.INTERP_MNIST, ["n_randomisation=9"], r"n_randomisation \(9\) must be at most n_expl"),
        (ex.INTERP_MNIST, ["case_top_k=33"], r"case_top_k \(33\) must be at most .* = 32 channels"),
        (ex.INTERP_MNIST, ["train_size=100"], r"train_size must be in \[128, 60000\], got 100"),
    ],
)
def test_configs_refuse_what_they_cannot_run_with(
    spec: object, assignments: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        spec.config("smoke", assignments)  # type: ignore[attr-defined]


def test_impl_run_calls_only_the_learners_exercises(tmp_path, monkeypatch):
    """An --impl induction-heads run scores, ablates, composes and patches with the learner's
    functions only: each marks that it was called, the reference versions would raise."""
    folder = counting_workspace(SLUG, tmp_path / "ws", monkeypatch)
    cfg = ex.INDUCTION_HEADS.config("smoke", [f"impl={tmp_path / 'ws'}"])
    launch(ex.INDUCTION_HEADS, cfg, "smoke", tmp_path / "runs")
    called = {p.stem for p in folder.glob("*.called")}
    assert called == {
        "induction_score",
        "ablate_heads",
        "composition_score",
        "composition_scores",
        "patch_heads",
    }
