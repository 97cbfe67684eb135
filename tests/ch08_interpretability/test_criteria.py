"""Every criterion of chapter 8's three experiments on planted summaries: the README's quick
runs pass; broken ones (an attribution no better than a random order, IG that is not
complete or ignores the weights, no induction head, an ablation that changes nothing, a
model that does not copy, a circuit that composition scores or patching do not show) never
do."""

from dlcurriculum.ch08_interpretability import experiments as ex
from dlcurriculum.core.experiment import ExperimentSpec
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, Judgement
from tests.criteria import judge_summary, statuses


def _judge(spec: ExperimentSpec, summary: dict, *sets: str) -> Judgement:
    return judge_summary(spec, summary, *sets)


def _statuses(spec: ExperimentSpec, summary: dict, *sets: str) -> list[str]:
    return statuses(spec, summary, *sets)


# the README's quick interp-mnist run
MNIST = {
    "ig_completeness_max_error": 0.0060,
    "deletion_auc/integrated_gradients": 0.163,
    "deletion_auc/random": 0.553,
    "insertion_auc/integrated_gradients": 0.935,
    "insertion_auc/random": 0.531,
    "randomised_rank_corr/integrated_gradients": 0.42,
}


def test_interp_mnist_passes_the_quick_run_and_fails_broken_attributions() -> None:
    judged = _judge(ex.INTERP_MNIST, MNIST)
    assert judged.status == PASS and [v.status for _, v in judged.verdicts] == [PASS] * 4
    # IG no better than a random order: a small gap either way is not "faster than random"
    near_random = {
        **MNIST,
        "deletion_auc/integrated_gradients": 0.50,
        "insertion_auc/integrated_gradients": 0.58,
    }
    assert _statuses(ex.INTERP_MNIST, near_random) == [PASS, FAIL, FAIL, PASS]
    # the wrong way round: IG order keeps the prediction alive longer than a random one
    backwards = {
        **MNIST,
        "deletion_auc/integrated_gradients": 0.80,
        "insertion_auc/integrated_gradients": 0.30,
    }
    assert _statuses(ex.INTERP_MNIST, backwards)[1:3] == [FAIL, FAIL]
    # IG without the (x - baseline) factor: far from complete, and an edge detector that does
    # not notice the weights are gone
    broken = {
        **MNIST,
        "ig_completeness_max_error": 0.35,
        "randomised_rank_corr/integrated_gradients": 0.93,
    }
    assert _statuses(ex.INTERP_MNIST, broken) == [FAIL, PASS, PASS, FAIL]
    nan = {k: float("nan") for k in MNIST}
    assert _statuses(ex.INTERP_MNIST, nan) == [FAIL] * 4
    assert _statuses(ex.INTERP_MNIST, {}) == [NOT_MEASURED] * 4  # an interrupted run


def test_interp_mnist_labels_show_the_bars_set_on_the_command_line() -> None:
    labels = [n for n, _ in _judge(ex.INTERP_MNIST, MNIST).verdicts]
    assert "≤ 1.00%" in labels[0] and "at least 0.1 below" in labels[1]
    assert labels[3].endswith("≤ 0.50")
    sets = ("max_completeness_error=0.005", "min_auc_gap=0.395", "max_randomised_corr=0.4")
    judged = _judge(ex.INTERP_MNIST, MNIST, *sets)
    (completeness, v0), (deletion, v1), (insertion, v2), (randomised, v3) = judged.verdicts
    assert "≤ 0.50%" in completeness and v0.status == FAIL and v0.measured == "0.60%"
    assert "0.395 below" in deletion and v1.status == FAIL and v1.measured.endswith("(gap 0.390)")
    assert "0.395 above" in insertion and v2.status == PASS  # gap 0.404
    assert randomised.endswith("≤ 0.40") and v3.status == FAIL


# the README's quick induction-heads run
INDUCTION = {
    "best_induction_score": 0.623,
    "best_induction_head": [1, 1],
    "detected_induction_heads": [[1, 1], [1, 0], [1, 3]],
    "ablation_loss_rise": 6.15,
    "repeat_second_half_loss": 0.98,
    "ablate_control_second_half_loss": 3.45,
    "ablate_prev_token_heads": [[0, 2]],
    "k_composition_top": [[0, 2, 1, 3, 0.188], [0, 2, 1, 0, 0.185], [0, 2, 1, 1, 0.176]],
    "k_composition_ratio": 2.14,
    "composition_random_mean": 0.088,
    "patch_induction_recovery": 1.00,
    "patch_control_recovery": -0.19,
    "attention_restored_earlier_layers": 0.97,
    "induction_attention": {"clean": 0.596, "corrupted": 0.018, "earlier_layers": 0.580},
}
ALL_PASS = [PASS] * 5


def test_induction_heads_passes_the_quick_run_and_fails_without_a_circuit() -> None:
    judged = _judge(ex.INDUCTION_HEADS, INDUCTION)
    assert judged.status == PASS and [v.status for _, v in judged.verdicts] == ALL_PASS
    # still on the plateau: no head reaches the threshold, so none is ablated, scored or
    # patched as one
    plateau = {
        **INDUCTION,
        "best_induction_score": 0.05,
        "detected_induction_heads": [],
        "ablation_loss_rise": 0.02,
        "ablate_control_second_half_loss": 6.0,
        "repeat_second_half_loss": 5.9,
    }
    assert _statuses(ex.INDUCTION_HEADS, plateau) == [FAIL] + [NOT_MEASURED] * 4
    assert _judge(ex.INDUCTION_HEADS, plateau).status == FAIL
    # heads that score but do not carry the copying: ablating them changes (almost) nothing
    assert _statuses(ex.INDUCTION_HEADS, {**INDUCTION, "ablation_loss_rise": 0.3})[1] == FAIL
    # a rise above the bar, but no more than ablating as many unrelated heads
    control = {**INDUCTION, "ablation_loss_rise": 1.5, "ablate_control_second_half_loss": 3.0}
    assert _statuses(ex.INDUCTION_HEADS, control)[1] == FAIL
    assert _statuses(ex.INDUCTION_HEADS, {}) == [NOT_MEASURED] * 5


def test_the_circuit_criteria_fail_when_the_circuit_is_not_shown() -> None:
    # the top K-composition pair is another head's: layer 1 reads something else first
    other = {**INDUCTION, "k_composition_top": [[0, 1, 1, 3, 0.19]]}
    assert _statuses(ex.INDUCTION_HEADS, other) == [PASS, PASS, FAIL, PASS, PASS]
    assert "not the circuit's" in _judge(ex.INDUCTION_HEADS, other).verdicts[2][1].measured
    # ... or the reader is not an induction head
    reader = {**INDUCTION, "k_composition_top": [[0, 2, 1, 2, 0.19]]}
    assert _statuses(ex.INDUCTION_HEADS, reader)[2] == FAIL
    # the right pair, but hardly above random matrices (a trained model's spectra alone lift
    # every pair a little)
    weak = {**INDUCTION, "k_composition_ratio": 1.2}
    assert _statuses(ex.INDUCTION_HEADS, weak) == [PASS, PASS, FAIL, PASS, PASS]
    # patching the induction heads restores only part of the behaviour ...
    partial = {**INDUCTION, "patch_induction_recovery": 0.45}
    assert _statuses(ex.INDUCTION_HEADS, partial) == [PASS, PASS, PASS, FAIL, PASS]
    # ... or no more than as many unrelated heads
    anyone = {**INDUCTION, "patch_induction_recovery": 0.9, "patch_control_recovery": 0.95}
    assert _statuses(ex.INDUCTION_HEADS, anyone)[3] == FAIL
    # layer 0 at the first copy does not steer the induction heads' attention (no K-composition)
    keyless = {**INDUCTION, "attention_restored_earlier_layers": 0.1}
    assert _statuses(ex.INDUCTION_HEADS, keyless) == [PASS, PASS, PASS, PASS, FAIL]
    nan = {**INDUCTION, "attention_restored_earlier_layers": float("nan")}
    assert _statuses(ex.INDUCTION_HEADS, nan)[4] == FAIL


def test_induction_heads_labels_show_the_bars_set_on_the_command_line() -> None:
    sets = (
        "induction_threshold=0.7",
        "min_ablation_rise=7",
        "min_composition_ratio=2.5",
        "min_patch_recovery=1",
        "min_attention_restored=0.98",
    )
    judged = _judge(ex.INDUCTION_HEADS, INDUCTION, *sets)
    (head, v0), (ablation, v1), (k, v2), (patched, v3), (key, v4) = judged.verdicts
    assert head.endswith("≥ 0.7") and v0.status == FAIL and v0.measured == "0.623 (head 1.1)"
    assert "by ≥ 7 nats" in ablation and v1.status == FAIL
    assert "≥ 2.5x random" in k and v2.status == FAIL
    assert v2.measured.startswith("0.2 -> 1.3: 0.188 = 2.14x random")
    assert "recovers ≥ 1 of" in patched and v3.status == PASS  # 1.00 passes a bar of 1
    assert "restores ≥ 0.98 of" in key and v4.status == FAIL
    assert v4.measured == "0.97 (0.018 -> 0.580, clean 0.596)"


# the README's quick induction-lm run (SmolLM2-135M-Instruct)
LM = {
    "top_heads": [[18, 6, 0.889], [17, 3, 0.748]],
    "repeat_first_half_loss": 14.2,
    "repeat_second_half_loss": 3.3,
    "patch_clean_logit_diff": 12.13,
    "patch_corrupted_logit_diff": -0.26,
    "patch_cumulative_recovery": [0.08, 0.17, 0.19, 0.18, 0.37, 0.56, 0.69, 0.75, 0.79, 0.81],
    "patch_control_recovery": -0.03,
}


def test_induction_lm_passes_the_quick_run_and_fails_a_model_that_does_not_copy() -> None:
    judged = _judge(ex.INDUCTION_LM, LM)
    assert judged.status == PASS and [v.status for _, v in judged.verdicts] == [PASS] * 3
    # a random model (the tiny smoke models): no induction head, both copies equally hard,
    # and no logit difference for patching to recover
    random = {"top_heads": [[1, 0, 0.13]], "repeat_first_half_loss": 10.4,
              "repeat_second_half_loss": 10.3, "patch_clean_logit_diff": 0.02,
              "patch_corrupted_logit_diff": 0.02, "patch_cumulative_recovery": [-1.78],
              "patch_control_recovery": -1.33}  # fmt: skip
    assert _statuses(ex.INDUCTION_LM, random) == [FAIL, FAIL, NOT_MEASURED]
    # a drop of half a nat is not copying
    assert _statuses(ex.INDUCTION_LM, {**LM, "repeat_second_half_loss": 13.7}) == [
        PASS, FAIL, PASS
    ]  # fmt: skip
    # the top heads carry little of the behaviour, or no more than random heads
    weak = {**LM, "patch_cumulative_recovery": [0.1, 0.2]}
    assert _statuses(ex.INDUCTION_LM, weak) == [PASS, PASS, FAIL]
    anyone = {**LM, "patch_control_recovery": 0.85}
    assert _statuses(ex.INDUCTION_LM, anyone) == [PASS, PASS, FAIL]
    assert _statuses(ex.INDUCTION_LM, LM, "patch_heads=0")[2] == NOT_MEASURED
    assert _statuses(ex.INDUCTION_LM, {}) == [NOT_MEASURED] * 3


def test_induction_lm_labels_show_the_bars_set_on_the_command_line() -> None:
    sets = ("min_top_score=0.9", "min_copy_gain=12", "patch_heads=5", "min_patch_recovery=0.9")
    judged = _judge(ex.INDUCTION_LM, LM, *sets)
    (head, v0), (copies, v1), (patched, v2) = judged.verdicts
    assert head.endswith("≥ 0.9") and v0.status == FAIL
    assert "≥ 12 nats" in copies and v1.status == FAIL and v1.measured.endswith("(+10.90)")
    assert "top 5 induction heads recovers ≥ 0.9" in patched and v2.status == FAIL
    assert v2.measured == "0.81 (as many random heads: -0.03)"
