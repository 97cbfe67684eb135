"""Every criterion of chapter 3's four experiments on planted summaries: the README's quick
runs pass, broken parallelism (no broadcast, summed gradients, a stage that reports nothing,
unsharded optimizer state, a run that does not learn) never does."""

import pytest

from dlcurriculum.ch03_training_at_scale import experiments
from dlcurriculum.core.experiment import ExperimentSpec
from dlcurriculum.core.report import FAIL, INCOMPLETE, NOT_MEASURED, PASS, Judgement
from tests.criteria import judge_summary, statuses


def _judge(spec: ExperimentSpec, summary: dict, *sets: str) -> Judgement:
    return judge_summary(spec, summary, *sets)


def _statuses(spec: ExperimentSpec, summary: dict, *sets: str) -> list[str]:
    return statuses(spec, summary, *sets)


# the README's quick dp-mnist run: chaotic after a few dozen steps, as its control is
DP_MNIST = {
    "max_loss_diff_exact_steps": 7.3e-6,
    "steps_outside_noise": 0,
    "max_loss_diff": 2.4e-2,
    "noise_floor": 2.7e-2,
    "ranks_agree": 0.0,
    "first_loss": 2.85,
    "final_loss": 0.14,
}
# no broadcast: each rank keeps its own random init, so the curves split at step 0 and the
# ranks disagree; and it barely learns
NO_BROADCAST = {
    **DP_MNIST,
    "max_loss_diff_exact_steps": 0.31,
    "steps_outside_noise": 200,
    "max_loss_diff": 0.5,
    "ranks_agree": 0.04,
    "final_loss": 2.80,
}
# the README's quick dp-transformer run with --set zero=true (compare_ddp is on in quick)
DP_TRANSFORMER = {
    **DP_MNIST,
    "max_loss_diff_exact_steps": 7.2e-7,
    "max_loss_diff": 7.2e-7,
    "noise_floor": 1e-6,
    "first_loss": 5.56,
    "final_loss": 2.49,
    "max_loss_diff_ddp": 0.0,
    "optimizer_state_bytes_single": 1_095_680,
    "optimizer_state_bytes_per_rank": [547_840, 547_840],
}
# the README's quick model-parallel runs (bytes of Shakespeare)
PIPELINE = {
    "max_logit_diff": 0.0,
    "max_grad_diff": 2.2e-8,
    "gradients_missing": 0.0,
    "max_loss_diff": 6.0e-7,
    "first_loss": 5.555,
    "final_loss": 2.725,
}
TENSOR_PARALLEL = {**PIPELINE, "max_logit_diff": 2.4e-7, "max_grad_diff": 3.0e-8}


def test_dp_mnist_passes_the_quick_run_and_fails_a_missing_broadcast() -> None:
    spec = experiments.DP_MNIST
    judged = _judge(spec, DP_MNIST)
    assert judged.status == PASS and [v.status for _, v in judged.verdicts] == [PASS] * 4
    assert _statuses(spec, NO_BROADCAST) == [FAIL] * 4
    # summed instead of averaged gradients: equal at step 0, apart from step 1
    summed = {**DP_MNIST, "max_loss_diff_exact_steps": 0.05, "steps_outside_noise": 199}
    assert _statuses(spec, summed) == [FAIL, FAIL, PASS, PASS]
    # a loss that only wobbles (a no-op optimizer step) is not learning
    for final in (2.80, float("nan")):
        assert _statuses(spec, {**DP_MNIST, "final_loss": final})[3] == FAIL
    assert _statuses(spec, {}) == [NOT_MEASURED] * 4  # an interrupted run


def test_dp_without_compare_ddp_lists_the_ddp_criterion_as_not_run() -> None:
    spec = experiments.DP_TRANSFORMER
    judged = _judge(spec, DP_TRANSFORMER, "compare_ddp=false")
    assert judged.status == PASS and len(judged.verdicts) == 4
    assert [flag for _, flag in judged.not_run] == ["--set compare_ddp=true", "--set zero=true"]
    assert not any("DDP" in label for label, _ in judged.verdicts)
    assert "DDP" in judged.not_run[0][0]
    # asked for, but the figure is missing: not measured, never a pass
    asked = _judge(spec, {k: v for k, v in DP_TRANSFORMER.items() if k != "max_loss_diff_ddp"})
    assert asked.status == INCOMPLETE and asked.verdicts[4][1].status == NOT_MEASURED


def test_dp_transformer_ddp_and_zero_criteria_can_fail() -> None:
    spec = experiments.DP_TRANSFORMER
    judged = _judge(spec, DP_TRANSFORMER, "zero=true")
    assert [v.status for _, v in judged.verdicts] == [PASS] * 6 and not judged.not_run
    assert judged.verdicts[5][1].measured == (
        "547,840 bytes on the largest rank, 1,095,680 on all 2 vs 1,095,680 unsharded"
    )
    broken = {
        **NO_BROADCAST,
        "max_loss_diff_ddp": 0.3,  # ours drifts from DDP
        "optimizer_state_bytes_single": 1_095_680,
        "optimizer_state_bytes_per_rank": [1_095_680, 1_095_680],  # not sharded at all
    }
    assert _statuses(spec, broken, "zero=true") == [FAIL] * 6
    for per_rank in ([547_840, 0], [547_832, 547_832], [600_000, 495_680]):
        # half the state dropped; a shard short; shards of unequal size
        summary = {**DP_TRANSFORMER, "optimizer_state_bytes_per_rank": per_rank}
        assert _statuses(spec, summary, "zero=true")[5] == FAIL, per_rank


@pytest.mark.parametrize(
    ("spec", "good"),
    [(experiments.PIPELINE, PIPELINE), (experiments.TENSOR_PARALLEL, TENSOR_PARALLEL)],
    ids=["pipeline", "tensor-parallel"],
)
def test_model_parallel_criteria_pass_the_quick_run_and_fail_a_wrong_split(
    spec: ExperimentSpec, good: dict
) -> None:
    assert _judge(spec, good).status == PASS
    # a wrong split (e.g. heads summed twice, a stage fed the wrong activations), not learning
    broken = {
        **good,
        "max_logit_diff": 0.4,
        "max_grad_diff": 0.02,
        "max_loss_diff": 0.3,
        "final_loss": 5.5,
    }
    assert _statuses(spec, broken) == [FAIL] * 4
    # a stage that returns no gradients is never compared: missing, not equal
    silent = {**good, "max_grad_diff": 0.0, "gradients_missing": 18.0}
    [gradients] = [v for label, v in _judge(spec, silent).verdicts if "gradients" in label]
    assert gradients.status == FAIL and "18 parameters' gradients missing" in gradients.measured
    no_count = {k: v for k, v in good.items() if k != "gradients_missing"}  # an older run
    assert _statuses(spec, no_count)[1] == NOT_MEASURED


def test_the_loss_drop_label_shows_the_bar_the_run_used() -> None:
    for spec, good, status in (
        (experiments.DP_MNIST, DP_MNIST, PASS),  # a 95% drop
        (experiments.PIPELINE, PIPELINE, FAIL),  # a 51% drop
    ):
        (label, verdict) = _judge(spec, good, "min_loss_drop=0.6").verdicts[3]
        assert label == "the loss falls by ≥ 60% of its first value"
        assert verdict.status == status
    (label, verdict) = _judge(experiments.PIPELINE, PIPELINE).verdicts[3]
    assert label == "the loss falls by ≥ 10% of its first value"
    assert verdict.measured == "51% (loss 5.555 -> 2.725)"
