"""Every criterion of chapter 8's three experiments on planted summaries: the README's quick
runs pass; broken ones (an attribution no better than a random order, IG that is not
complete or ignores the weights, no induction head, an ablation that changes nothing, a
model that does not copy) never do."""

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
}


def test_induction_heads_passes_the_quick_run_and_fails_without_a_circuit() -> None:
    judged = _judge(ex.INDUCTION_HEADS, INDUCTION)
    assert judged.status == PASS and [v.status for _, v in judged.verdicts] == [PASS, PASS]
    # still on the plateau: no head reaches the threshold, so none is ablated as one
    plateau = {
        **INDUCTION,
        "best_induction_score": 0.05,
        "detected_induction_heads": [],
        "ablation_loss_rise": 0.02,
        "ablate_control_second_half_loss": 6.0,
        "repeat_second_half_loss": 5.9,
    }
    assert _statuses(ex.INDUCTION_HEADS, plateau) == [FAIL, NOT_MEASURED]
    assert _judge(ex.INDUCTION_HEADS, plateau).status == FAIL
    # heads that score but do not carry the copying: ablating them changes (almost) nothing
    assert _statuses(ex.INDUCTION_HEADS, {**INDUCTION, "ablation_loss_rise": 0.3}) == [PASS, FAIL]
    # a rise above the bar, but no more than ablating as many unrelated heads
    control = {**INDUCTION, "ablation_loss_rise": 1.5, "ablate_control_second_half_loss": 3.0}
    assert _statuses(ex.INDUCTION_HEADS, control) == [PASS, FAIL]
    assert _statuses(ex.INDUCTION_HEADS, {}) == [NOT_MEASURED] * 2


def test_induction_heads_labels_show_the_bars_set_on_the_command_line() -> None:
    judged = _judge(ex.INDUCTION_HEADS, INDUCTION, "induction_threshold=0.7", "min_ablation_rise=7")
    (head, v0), (ablation, v1) = judged.verdicts
    assert head.endswith("≥ 0.7") and v0.status == FAIL and v0.measured == "0.623 (head 1.1)"
    assert "by ≥ 7 nats" in ablation and v1.status == FAIL


# the README's quick induction-lm run (SmolLM2-135M-Instruct)
LM = {
    "top_heads": [[18, 6, 0.889], [17, 3, 0.748]],
    "repeat_first_half_loss": 14.2,
    "repeat_second_half_loss": 3.3,
}


def test_induction_lm_passes_the_quick_run_and_fails_a_model_that_does_not_copy() -> None:
    judged = _judge(ex.INDUCTION_LM, LM)
    assert judged.status == PASS and [v.status for _, v in judged.verdicts] == [PASS, PASS]
    # a random model (the tiny smoke models): no induction head, both copies equally hard
    random = {"top_heads": [[1, 0, 0.13]], "repeat_first_half_loss": 10.4,
              "repeat_second_half_loss": 10.3}  # fmt: skip
    assert _statuses(ex.INDUCTION_LM, random) == [FAIL, FAIL]
    # a drop of half a nat is not copying
    assert _statuses(ex.INDUCTION_LM, {**LM, "repeat_second_half_loss": 13.7}) == [PASS, FAIL]
    assert _statuses(ex.INDUCTION_LM, {}) == [NOT_MEASURED] * 2


def test_induction_lm_labels_show_the_bars_set_on_the_command_line() -> None:
    judged = _judge(ex.INDUCTION_LM, LM, "min_top_score=0.9", "min_copy_gain=12")
    (head, v0), (copies, v1) = judged.verdicts
    assert head.endswith("≥ 0.9") and v0.status == FAIL
    assert "≥ 12 nats" in copies and v1.status == FAIL and v1.measured.endswith("(+10.90)")
