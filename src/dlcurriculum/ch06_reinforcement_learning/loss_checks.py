"""Grader checks for chapter 6's PPO losses and diagnostics: the clipped surrogate, the
value loss, approximate KL, explained variance, advantage normalization and the full loss.

Each compares the learner's code with an independent oracle (a plain Python loop in
another form, exact categorical KL, numpy) and names the common mistakes.
"""

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dlcurriculum.core.checks import (
    ExerciseFailure,
    assert_close,
    assert_shape,
    name_the_mistake,
)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _surrogate_loop(logprobs: Tensor, old: Tensor, adv: Tensor, clip: float) -> float:
    """The clipped objective written piecewise, one sample at a time (negated, averaged)."""
    total = 0.0
    for lp, lo, a in zip(logprobs.tolist(), old.tolist(), adv.tolist(), strict=True):
        ratio = math.exp(lp - lo)
        total += min(ratio, 1 + clip) * a if a >= 0 else max(ratio, 1 - clip) * a
    return -total / len(adv)


def _surrogate_variant(
    logprobs: Tensor,
    old: Tensor,
    adv: Tensor,
    clip: float,
    *,
    pick: Callable = min,
    adv_range: tuple[float, float] | None = None,
    invert: bool = False,
    total: bool = False,
) -> float:
    """The min-form objective with one classic mistake switched on (negated): `pick=max`,
    the advantages clipped to `adv_range` instead of the ratio, the ratio `invert`ed
    (old over new), or the `total` instead of the mean."""
    out = 0.0
    for lp, lo, a in zip(logprobs.tolist(), old.tolist(), adv.tolist(), strict=True):
        ratio = math.exp(lo - lp) if invert else math.exp(lp - lo)
        if adv_range is None:
            clipped = min(max(ratio, 1 - clip), 1 + clip) * a
        else:
            clipped = ratio * min(max(a, adv_range[0]), adv_range[1])
        out += pick(ratio * a, clipped)
    return -out if total else -out / len(adv)


def check_clipped_surrogate(clipped_surrogate: Callable[..., Tensor]) -> None:
    """Equals the piecewise objective; zero gradient exactly where clipping is active."""
    g = _gen(2)
    old = torch.randn(64, generator=g) - 1.0
    logprobs = (old + 0.4 * torch.randn(64, generator=g)).requires_grad_()
    adv = torch.randn(64, generator=g)
    clip = 0.2
    got = clipped_surrogate(logprobs, old, adv, clip)
    assert_shape(got, (), "clipped_surrogate(...)", hint="Return a scalar: average the batch.")
    lp = logprobs.detach()
    expected = _surrogate_loop(lp, old, adv, clip)
    ratio = lp.sub(old).exp()
    clip_adv = "you clipped the advantages: clip the ratio to [1 - clip_coef, 1 + clip_coef] and "
    clip_adv += "multiply it by the unclipped advantages (do not clip the advantages)"
    what = "clipped_surrogate on 64 samples"
    name_the_mistake(
        got,
        {
            "the sign is flipped: return the NEGATIVE objective (a loss to minimise)": -expected,
            "you took the max of the two terms: take the min (a pessimistic bound)": (
                _surrogate_variant(lp, old, adv, clip, pick=max)
            ),
            clip_adv: _surrogate_variant(lp, old, adv, clip, adv_range=(1 - clip, 1 + clip)),
            "the ratio is upside down: rho = exp(logprobs - old_logprobs), new over old": (
                _surrogate_variant(lp, old, adv, clip, invert=True)
            ),
            "you summed over the batch: take the mean": expected * len(adv),
            "you took the min of two means: take the elementwise min first, then the mean": -min(
                (ratio * adv).mean().item(), (ratio.clamp(1 - clip, 1 + clip) * adv).mean().item()
            ),
        },
        what,
    )
    name_the_mistake(
        got, {clip_adv: _surrogate_variant(lp, old, adv, clip, adv_range=(-clip, clip))}, what
    )
    hint = "loss = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))."
    assert_close(got, torch.tensor(expected), what, 1e-5, 1e-4, hint)
    # the gradient: -ratio * A / n where the objective is unclipped, 0 where clipping binds
    (grad,) = torch.autograd.grad(got, logprobs)
    clipped = ((adv >= 0) & (ratio > 1 + clip)) | ((adv < 0) & (ratio < 1 - clip))
    expected_grad = torch.where(clipped, torch.zeros(()), -ratio * adv / len(adv))
    assert_close(
        grad,
        expected_grad,
        "d loss / d logprobs",
        hint="Samples whose ratio is clipped must get zero gradient: clip the ratio, then "
        "take the min with the unclipped term (do not clip the advantages).",
    )


def _value_loss_loop(
    v: Tensor,
    old: Tensor,
    ret: Tensor,
    clip: float | None,
    pick: Callable = max,
    around_returns: bool = False,
) -> float:
    """Half the mean squared error, clipped as in ppo2; `pick=min` and `around_returns`
    (clipping the new values around the returns, not the old values) are classic mistakes."""
    total = 0.0
    for x, o, r in zip(v.tolist(), old.tolist(), ret.tolist(), strict=True):
        err = (x - r) ** 2
        if clip is not None:
            centre = r if around_returns else o
            err = pick(err, (centre + min(max(x - centre, -clip), clip) - r) ** 2)
        total += 0.5 * err
    return total / len(v)


def check_value_loss(value_loss: Callable[..., Tensor]) -> None:
    """Half the MSE; the clipped version against a loop; gradients reach `values` only."""
    g = _gen(3)
    old = torch.randn(50, generator=g)
    values = (old + 0.5 * torch.randn(50, generator=g)).requires_grad_()
    returns = old + torch.randn(50, generator=g)
    for clip in (None, 0.2):
        got = value_loss(values, old, returns, clip)
        what = f"value_loss(..., clip_coef={clip})"
        assert_shape(got, (), what, hint="Return a scalar: average over the batch.")
        expected = _value_loss_loop(values.detach(), old, returns, clip)
        v = values.detach()
        mistakes = {"off by a factor 2: the loss is HALF the mean squared error": 2 * expected}
        if clip is not None:
            mistakes |= {
                "you took the min of the clipped and unclipped errors: take the max (a "
                "pessimistic bound)": _value_loss_loop(v, old, returns, clip, pick=min),
                "clip the new values around old_values, not the returns: v_clip = old_values "
                "+ clip(values - old_values, -clip_coef, clip_coef)": _value_loss_loop(
                    v, old, returns, clip, around_returns=True
                ),
            }
        name_the_mistake(got, mistakes, what)
        hint = "0.5 * mean((values - returns)^2)" + (
            ", with the max of the clipped and unclipped errors" if clip else ""
        )
        assert_close(got, torch.tensor(expected), what, 1e-5, 1e-4, hint)
    old_req = old.clone().requires_grad_()
    value_loss(values, old_req, returns, 0.2).backward()
    if old_req.grad is not None and old_req.grad.abs().sum() > 0:
        raise ExerciseFailure(
            "value_loss sends gradient into old_values: they are constants from the rollout "
            "(detach them); only `values` should be trained"
        )
    same = value_loss(old.clone(), old, old, 0.2)
    if same.item() != 0.0:
        raise ExerciseFailure("value_loss must be 0 when values == old_values == returns")


def check_approx_kl(approx_kl: Callable[..., Tensor]) -> None:
    """Equals mean(0.5 * log-ratio^2), and estimates the exact categorical KL(old || new)."""
    g = _gen(4)
    old, new = torch.randn(40, generator=g), torch.randn(40, generator=g)
    got = approx_kl(new, old)
    assert_shape(got, (), "approx_kl(...)", hint="Return a scalar.")
    pairs = list(zip(new.tolist(), old.tolist(), strict=True))
    expected = sum(0.5 * (a - b) ** 2 for a, b in pairs) / 40
    what = "approx_kl on random log-probs"
    name_the_mistake(
        got,
        {
            "that is the k1 estimator mean(old - new), which can go negative: use k2, "
            "mean(0.5 * (logprobs - old_logprobs)^2)": sum(b - a for a, b in pairs) / 40,
            "you left out the factor 0.5: k2 is mean(0.5 * (logprobs - old_logprobs)^2)": (
                2 * expected
            ),
            "you summed over the batch: take the mean": 40 * expected,
            "that is the k3 estimator mean(ratio - 1 - log ratio): this exercise asks for k2, "
            "mean(0.5 * (logprobs - old_logprobs)^2)": (
                sum(math.exp(a - b) - 1 - (a - b) for a, b in pairs) / 40
            ),
        },
        what,
    )
    hint = "mean of 0.5 * (logprobs - old_logprobs)^2: the k2 estimator."
    assert_close(got, torch.tensor(expected), what, hint=hint)
    # exact KL between two close categorical distributions vs the estimate from samples
    p_old = torch.tensor([0.1, 0.2, 0.3, 0.25, 0.15])
    p_new = torch.tensor([0.12, 0.18, 0.28, 0.27, 0.15])
    exact = float((p_old * (p_old / p_new).log()).sum())
    actions = torch.multinomial(p_old, 200_000, replacement=True, generator=_gen(5))
    estimate = approx_kl(p_new.log()[actions], p_old.log()[actions]).item()
    if not abs(estimate - exact) < 0.15 * exact:
        raise ExerciseFailure(
            f"approx_kl on 200k actions sampled from the old policy gave {estimate:.5f}, but "
            f"the exact KL(old || new) is {exact:.5f}: check the log-ratio's orientation "
            "(new - old) and the factor 0.5"
        )


def check_explained_variance(explained_variance: Callable[..., float]) -> None:
    """1 for a perfect critic, 0 for the mean, nan for constant targets, numpy otherwise."""
    g = _gen(6)
    targets = torch.randn(100, generator=g)
    # an offset critic first: its mean squared error and its residuals' variance differ
    pred = targets + 0.5 * torch.randn(100, generator=g) + 0.3
    got = explained_variance(pred, targets)
    if not isinstance(got, float):
        raise ExerciseFailure(
            f"explained_variance returned {type(got).__name__}: return a Python float (.item())"
        )
    t, p = targets.numpy().astype(np.float64), pred.numpy().astype(np.float64)
    want = 1.0 - np.var(t - p) / np.var(t)
    what = "explained_variance on noisy predictions"
    name_the_mistake(
        got,
        {
            "use the population variance (unbiased=False) for Var[targets - predictions] too": (
                1.0 - np.var(t - p, ddof=1) / np.var(t)
            ),
            "you divided by Var[predictions]: divide by Var[targets]": (
                1.0 - np.var(t - p) / np.var(p)
            ),
            "that is 1 - MSE / Var[targets] (R^2): use the variance of the residuals, "
            "Var[targets - predictions], so a constant offset does not count": (
                1.0 - np.mean((t - p) ** 2) / np.var(t)
            ),
        },
        what,
    )
    if abs(got - want) > 1e-5:
        raise ExerciseFailure(
            f"{what} is {got:.5f}, numpy gives {want:.5f}: use 1 - Var[targets - predictions] "
            "/ Var[targets] with the population variance (unbiased=False)"
        )
    cases = [
        ("a perfect prediction", targets.clone(), 1.0),
        ("predicting the targets' mean", torch.full_like(targets, targets.mean().item()), 0.0),
    ]
    for name, pred, want in cases:
        got = explained_variance(pred, targets)
        if not isinstance(got, float):
            raise ExerciseFailure(
                f"explained_variance returned {type(got).__name__}: return a Python float"
            )
        if abs(got - want) > 1e-5:
            raise ExerciseFailure(f"explained_variance for {name} is {got:.4f}, expected {want}")
    if not explained_variance(-targets, targets) < 0:
        raise ExerciseFailure("a critic worse than the mean must give a negative value")
    const = explained_variance(torch.randn(10, generator=g), torch.full((10,), 3.0))
    if not math.isnan(const):
        raise ExerciseFailure(
            f"explained_variance with constant targets returned {const}: Var[targets] = 0, "
            'so return float("nan")'
        )


def check_normalize_advantages(normalize_advantages: Callable[..., Tensor]) -> None:
    """Mean 0 and std 1 over every element (numpy's formula); eps keeps constants finite."""
    g = _gen(9)
    # 5 steps x 3 envs whose columns have different means, so per-env statistics differ
    adv = torch.randn(5, 3, generator=g) + torch.tensor([2.0, -1.0, 0.5])
    before = adv.clone()
    got = normalize_advantages(adv)
    if not torch.equal(adv, before):
        raise ExerciseFailure(
            "normalize_advantages changed its input in place: return a new tensor "
            "(advantages - mean) / (std + eps) instead of using -= or sub_"
        )
    assert_shape(got, (5, 3), "normalize_advantages([5, 3])", hint="Keep the input's shape.")
    a = adv.numpy().astype(np.float64)

    def scaled(x: np.ndarray, mean: Any, std: Any) -> Tensor:
        return torch.from_numpy((x - mean) / (std + 1e-8))

    mean, std = a.mean(), a.std(ddof=1)
    what = "normalize_advantages on 5 steps x 3 envs"
    name_the_mistake(
        got,
        {
            "the mean is not subtracted: normalised advantages have mean 0": scaled(a, 0.0, std),
            "you divided by the variance: divide by the standard deviation": scaled(
                a, mean, a.var(ddof=1)
            ),
            "you normalised each env (column) on its own: take one mean and one std over all "
            "elements (all steps and envs)": scaled(a, a.mean(0), a.std(0, ddof=1)),
            "you normalised each step (row) on its own: take one mean and one std over all "
            "elements (all steps and envs)": scaled(
                a, a.mean(1, keepdims=True), a.std(1, ddof=1, keepdims=True)
            ),
            "use torch's default unbiased std (divide by n - 1), not unbiased=False": scaled(
                a, mean, a.std()
            ),
        },
        what,
    )
    assert_close(got, scaled(a, mean, std), what, hint="(advantages - mean) / (std + eps)")
    constant = normalize_advantages(torch.full((8,), 3.0))
    if not torch.isfinite(constant).all():
        raise ExerciseFailure(
            "constant advantages (std 0) gave nan or inf: add eps to the standard deviation"
        )
    big_eps = normalize_advantages(adv, eps=1.0)
    assert_close(
        big_eps,
        torch.from_numpy((a - mean) / (std + 1.0)),
        "normalize_advantages(..., eps=1.0)",
        hint="Add the `eps` argument to the standard deviation (do not hard-code 1e-8).",
    )


def check_ppo_loss(ppo_loss: Callable[..., Tensor]) -> None:
    """pg_loss - ent_coef * mean entropy + vf_coef * v_loss, with gradients into every term."""
    pg = torch.tensor(0.3, requires_grad=True)
    v = torch.tensor(2.0, requires_grad=True)
    entropy = torch.tensor([1.0, 1.2, 0.5, 0.9], requires_grad=True)  # mean 0.9, sum 3.6
    ent_coef, vf_coef = 0.1, 0.5
    got = ppo_loss(pg, v, entropy, ent_coef, vf_coef)
    assert_shape(got, (), "ppo_loss(...)", hint="Return a scalar.")
    what = "ppo_loss(pg_loss=0.3, v_loss=2.0, entropies with mean 0.9, ent_coef=0.1, vf_coef=0.5)"
    name_the_mistake(
        got,
        {
            "the entropy bonus has the wrong sign: subtract ent_coef * entropy, so that more "
            "entropy (exploration) lowers the loss": 0.3 + 0.1 * 0.9 + 0.5 * 2.0,
            "you summed the entropy over the minibatch: take its mean": 0.3 - 0.1 * 3.6 + 1.0,
            "ent_coef and vf_coef are swapped: ent_coef weighs the entropy, vf_coef the value "
            "loss": 0.3 - 0.5 * 0.9 + 0.1 * 2.0,
            "the value loss is not weighted: multiply it by vf_coef": 0.3 - 0.09 + 2.0,
            "the value loss is subtracted: the critic's error must be minimised, add vf_coef "
            "* v_loss": 0.3 - 0.09 - 1.0,
            "the entropy is not weighted: multiply it by ent_coef": 0.3 - 0.9 + 1.0,
        },
        what,
    )
    assert_close(
        got,
        torch.tensor(0.3 - 0.1 * 0.9 + 0.5 * 2.0),
        what,
        hint="loss = pg_loss - ent_coef * entropy.mean() + vf_coef * v_loss",
    )
    if not got.requires_grad:
        raise ExerciseFailure(
            "ppo_loss does not carry gradients: combine the tensors, without .item() or detach"
        )
    got.backward()
    grads = [x.grad for x in (pg, v, entropy)]
    want = [torch.tensor(1.0), torch.tensor(vf_coef), torch.full((4,), -ent_coef / 4)]
    if any(a is None or not torch.allclose(a, b) for a, b in zip(grads, want, strict=True)):
        raise ExerciseFailure(
            "the gradient does not reach every term (expected d/d pg_loss = 1, d/d v_loss = "
            "vf_coef, d/d entropy_i = -ent_coef / batch): do not call .item() or detach()"
        )
