"""The grader checks pass on the reference and fail on known-wrong versions."""

import pytest
import torch

from dlcurriculum.ch08_interpretability import attribution, checks, composition, induction, patching
from dlcurriculum.core.checks import ExerciseFailure
from dlcurriculum.core.hooks import capture


def test_checks_pass_on_the_reference():
    checks.check_integrated_gradients(attribution.integrated_gradients)
    checks.check_induction_score(induction.induction_score)
    checks.check_ablate_heads(induction.ablate_heads)
    checks.check_composition_score(composition.composition_score)
    checks.check_composition_scores(composition.composition_scores)
    checks.check_patch_heads(patching.patch_heads)


def _ig_without_delta(model, images, targets, baseline=None, n_steps=64):
    ig = attribution.integrated_gradients(model, images, targets, baseline, n_steps)
    base = torch.zeros_like(images) if baseline is None else baseline
    return ig / (images - base)


def _ig_left_riemann(model, images, targets, baseline=None, n_steps=64):
    base = torch.zeros_like(images) if baseline is None else baseline
    alphas = torch.arange(n_steps, dtype=images.dtype) / n_steps
    grads = [attribution.input_gradient(model, base + a * (images - base), targets) for a in alphas]
    return (images - base) * torch.stack(grads).mean(0)


def _ig_ignoring_baseline(model, images, targets, baseline=None, n_steps=64):
    return attribution.integrated_gradients(model, images, targets, None, n_steps)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_ig_without_delta, "average gradient"),
        (_ig_left_riemann, "midpoint"),
        (_ig_ignoring_baseline, "non-zero baseline"),
    ],
)
def test_integrated_gradients_check_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_integrated_gradients(wrong)


def _score_same_token(pattern, half_len):  # q - T: the earlier copy of the same token
    n = pattern.shape[-1]
    return pattern.diagonal(offset=-half_len, dim1=-2, dim2=-1)[..., n - 2 * half_len :].mean(
        (0, 2)
    )


def _score_from_first_copy(pattern, half_len):  # assumes no prefix before the first copy
    d = pattern.diagonal(offset=-(half_len - 1), dim1=-2, dim2=-1)
    return d[..., 1 : 1 + half_len].mean((0, 2))


def _score_per_batch_item(pattern, half_len):
    return induction.induction_score(pattern[:1], half_len)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_score_same_token, "not q - T"),
        (_score_from_first_copy, "a BOS may come first"),
        (_score_per_batch_item, "average over the batch too"),
    ],
)
def test_induction_score_check_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_induction_score(wrong)


def _ablate_wrong_dim(model, tokens, heads):
    from dlcurriculum.core.hooks import patch

    def zero(z):
        z = z.clone()
        z[:, :, [h for _, h in heads]] = 0.0  # positions, not heads
        return z

    with patch(model, {f"blocks.{layer}.attn.hook_z": zero for layer, _ in heads}):
        return model(tokens)


def _ablate_leaking_hooks(model, tokens, heads):
    for layer, head in heads:

        def zero(module, inputs, z, head=head):
            z = z.clone()
            z[:, head] = 0.0
            return z

        model.blocks[layer].attn.hook_z.register_forward_hook(zero)
    return model(tokens)


def _ablate_nothing(model, tokens, heads):
    with capture(model, []):
        return model(tokens)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_ablate_wrong_dim, r"dim 1 is the head"),
        (_ablate_leaking_hooks, "hooks are still registered"),
        (_ablate_nothing, r"logits with heads \[\(1, 2\)\] ablated"),
    ],
)
def test_ablate_heads_check_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_ablate_heads(wrong)


def _k_without_transpose(W_OV, W_QK, kind):
    return composition.composition_scores(W_OV, W_QK, "Q" if kind == "K" else kind)


def _no_layer_mask(W_OV, W_QK, kind):
    readers = {"Q": W_QK, "K": W_QK.transpose(-1, -2), "V": W_OV}[kind]
    return composition.composition_score(W_OV[:, :, None, None], readers[None, None])


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_k_without_transpose, r"these are the Q-composition scores.*transpose W_QK"),
        (_no_layer_mask, r"set the rest to 0"),
    ],
)
def test_composition_scores_check_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_composition_scores(wrong)


def _patch_all_positions(model, tokens, clean_z, heads, positions=None):
    return patching.patch_heads(model, tokens, clean_z, heads, None)


def _patch_nothing(model, tokens, clean_z, heads, positions=None):
    return model(tokens)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [(_patch_all_positions, "you patched every position"), (_patch_nothing, "nothing was patched")],
)
def test_patch_heads_check_names_the_mistake(wrong, message):
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_patch_heads(wrong)
