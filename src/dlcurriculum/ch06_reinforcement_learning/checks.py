"""Grader checks for chapter 6: GAE, the PPO losses, the diagnostics, the rollout buffer.

Every check compares the learner's code with an independent oracle — a closed form (the
discounted return of a single terminal reward), a plain Python loop over samples written
in another form (the piecewise clipped objective), exact categorical KL, numpy — and
recognises the common mistakes (mixing terminated and truncated, a missing minus sign, the
mean taken before the min) to say which one was made.
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


def gae_by_sums(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float,
    gae_lambda: float,
    bootstrap_truncated: bool = True,
    cut_truncated: bool = True,
    bootstrap_terminated: bool = False,
) -> Tensor:
    """GAE as explicit forward sums A_t = sum_k (gamma lambda)^k delta_{t+k}, in Python floats.

    The keyword flags produce the classic wrong versions, so a check can name the mistake.
    """
    steps, envs = rewards.shape
    out = torch.zeros(steps, envs, dtype=torch.float64)
    for e in range(envs):
        for t in range(steps):
            total, coef = 0.0, 1.0
            for k in range(t, steps):
                term, trunc = bool(terminated[k, e]), bool(truncated[k, e])
                boot = (not term or bootstrap_terminated) and (not trunc or bootstrap_truncated)
                delta = float(rewards[k, e]) - float(values[k, e])
                delta += gamma * float(next_values[k, e]) if boot else 0.0
                total += coef * delta
                if term or (trunc and cut_truncated):
                    break
                coef *= gamma * gae_lambda
            out[t, e] = total
    return out


def gae_forwards(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    gamma: float,
    gae_lambda: float,
) -> Tensor:
    """The mistake of running the recursion forwards: A_t = delta_t + gamma lambda A_{t-1}."""
    out = torch.zeros(rewards.shape, dtype=torch.float64)
    running = torch.zeros(rewards.shape[1], dtype=torch.float64)
    for t in range(len(rewards)):
        boot = (~terminated[t]).double()
        delta = rewards[t].double() + gamma * boot * next_values[t].double() - values[t].double()
        running = delta + gamma * gae_lambda * (~terminated[t]).double() * running
        out[t] = running
    return out


def _gae_case(seed: int, steps: int = 8, envs: int = 3) -> tuple[Any, ...]:
    """(rewards, values, next_values, terminated, truncated, gamma, gae_lambda) with episode
    ends mid-rollout: terminations in envs 0 and 2, truncations in envs 1 and 2."""
    g = _gen(seed)
    terminated = torch.zeros(steps, envs, dtype=torch.bool)
    truncated = torch.zeros(steps, envs, dtype=torch.bool)
    terminated[3, 0] = terminated[6, 2] = True  # episodes end mid-rollout
    truncated[2, 1] = truncated[5, 2] = True  # time limits
    rewards, values, next_values = (torch.randn(steps, envs, generator=g) for _ in range(3))
    return rewards, values, next_values, terminated, truncated, 0.9, 0.8


def check_compute_gae(compute_gae: Callable[..., Tensor]) -> None:
    """Closed form for a single terminal reward; forward sums with terminations and truncations."""
    # Oracle 1 (SB3's test_gae): one episode of length 6, reward 1 at its terminal step only.
    # With lambda = 1 the advantage is the discounted return gamma^(5 - t) minus the value.
    gamma, length = 0.95, 6
    rewards = torch.zeros(length, 1)
    rewards[-1] = 1.0
    terminated = torch.zeros(length, 1, dtype=torch.bool)
    terminated[-1] = True
    values = torch.rand(length, 1, generator=_gen(0))
    next_values = torch.cat([values[1:], torch.full((1, 1), 123.0)])  # 123 must be ignored
    no = torch.zeros(length, 1, dtype=torch.bool)
    got = compute_gae(rewards, values, next_values, terminated, no, gamma, 1.0)
    closed = gamma ** torch.arange(length - 1, -1, -1.0)[:, None] - values
    assert_shape(got, (length, 1), "compute_gae on one env of 6 steps")
    single = (rewards, values, next_values, terminated, no, gamma, 1.0)
    what = "lambda=1, one terminal reward: gamma^(steps left) - V"
    name_the_mistake(
        got,
        {
            "you bootstrap from next_values where terminated: a terminal state is worth 0": (
                gae_by_sums(*single, bootstrap_terminated=True)
            ),
            "you ran the recursion forwards: A_t needs A_{t+1}, so loop backwards, from "
            "t = num_steps - 1 down to 0": gae_forwards(*single[:4], gamma, 1.0),
        },
        what,
        atol=1e-4,
    )
    hint = "With lambda = 1, GAE telescopes to the discounted return minus the value."
    assert_close(got, closed, what, hint=hint)
    # lambda = 0 is the one-step TD error
    got0 = compute_gae(rewards, values, next_values, terminated, no, gamma, 0.0)
    td = rewards + gamma * next_values * (~terminated) - values
    name_the_mistake(
        got0,
        {
            "gae_lambda is not used: multiply the next step's advantage by gamma * gae_lambda "
            "(lambda = 0 must give the one-step TD error)": closed
        },
        "lambda=0",
        atol=1e-4,
    )
    assert_close(got0, td, "lambda=0: advantages = one-step TD errors", hint="delta_t only.")

    # Oracle 2: forward sums, several envs, episodes ending mid-rollout, truncations
    case = _gae_case(1)
    got = compute_gae(*case)
    expected = gae_by_sums(*case)
    hint = "Compare step by step with A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}."
    wrong: dict[str, dict[str, Any]] = {
        "you treat truncation as termination: a time limit is not a terminal state, so "
        "bootstrap from next_values where truncated": {"bootstrap_truncated": False},
        "you carry the advantage across a truncation: the next row is a new episode, so stop "
        "the recursion where truncated too (done = terminated or truncated)": {
            "cut_truncated": False
        },
        "you bootstrap from next_values where terminated: a terminal state is worth 0": {
            "bootstrap_terminated": True
        },
    }
    if got.shape == expected.shape:
        for why, flags in wrong.items():
            if torch.allclose(got.double(), gae_by_sums(*case, **flags), atol=1e-5):
                hint = f"It looks like {why}."
    assert_close(got, expected, "compute_gae on 8 steps x 3 envs with episode ends", hint=hint)
    # rewards after an episode's end must not leak into it
    rewards = case[0].clone()
    rewards[4:, 0] += 10.0
    assert_close(
        compute_gae(rewards, *case[1:])[:4, 0],
        got[:4, 0],
        "env 0's advantages up to its termination at step 3, after changing later rewards",
        hint="The recursion must stop at an episode end: multiply by (1 - done_t).",
    )
    values = case[1].clone().requires_grad_()
    if compute_gae(case[0], values, *case[2:]).requires_grad:
        raise ExerciseFailure(
            "compute_gae's output requires grad when values do: detach the inputs (advantages "
            "are constants in the PPO losses)"
        )


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


def _filled_buffer(RolloutBuffer: type, steps: int = 5, envs: int = 3) -> tuple[Any, dict]:
    """A buffer whose obs row [t, e] identifies its sample, with a truncation and a termination."""
    buf = RolloutBuffer(steps, envs, (2,), (), torch.float32, torch.int64, "cpu")
    g = _gen(7)
    data: dict[str, Tensor] = {
        "obs": torch.stack(
            torch.meshgrid(torch.arange(steps), torch.arange(envs), indexing="ij"), -1
        ).float(),
        "actions": torch.randint(0, 4, (steps, envs), generator=g),
        "logprobs": -torch.rand(steps, envs, generator=g),
        "values": torch.randn(steps, envs, generator=g),
        "rewards": torch.randn(steps, envs, generator=g),
        "terminated": torch.zeros(steps, envs, dtype=torch.bool),
        "truncated": torch.zeros(steps, envs, dtype=torch.bool),
        "final_values": torch.randn(steps, envs, generator=g),
    }
    data["terminated"][1, 0] = True
    data["truncated"][2, 1] = data["truncated"][steps - 1, 2] = True  # mid-rollout and last
    for t in range(steps):
        buf.add(*(data[k][t] for k in data))
    return buf, data


def check_rollout_buffer(RolloutBuffer: type) -> None:
    """add/compute_advantages/minibatches: GAE with the right successor values, exact epochs."""
    buf, data = _filled_buffer(RolloutBuffer)
    try:
        buf.add(*(data[k][0] for k in data))
    except IndexError:
        pass
    else:
        raise ExerciseFailure("add() on a full buffer must raise IndexError, not overwrite")
    last = torch.tensor([0.5, -0.5, 9.0])  # env 2 is truncated at the last step: 9.0 is unused
    buf.compute_advantages(last, 0.9, 0.8)
    next_values = torch.cat([data["values"][1:], last[None]])
    next_values = torch.where(data["truncated"], data["final_values"], next_values)
    r, v, term, trunc = data["rewards"], data["values"], data["terminated"], data["truncated"]
    expected = gae_by_sums(r, v, next_values, term, trunc, 0.9, 0.8)
    hint = (
        "next_values[t] is values[t + 1]; after the last step it is last_values; where the "
        "episode was truncated at t it is final_values[t] (the reset observation is not s_{t+1})."
    )
    what = "buffer.advantages after compute_advantages"
    name_the_mistake(
        buf.advantages,
        {
            "you bootstrap truncated steps from the next row's value (the reset observation): "
            "use final_values there": gae_by_sums(
                r, v, torch.cat([v[1:], last[None]]), term, trunc, 0.9, 0.8
            ),
            "you bootstrap each step from its own value: next_values[t] is values[t + 1] "
            "(last_values after the last step)": gae_by_sums(
                r, v, torch.where(trunc, data["final_values"], v), term, trunc, 0.9, 0.8
            ),
        },
        what,
    )
    assert_close(buf.advantages, expected, what, hint=hint)
    # the critic's targets: the lambda-returns A_t + V(s_t)
    target = "the critic's target is the lambda-return, returns = advantages + values"
    what = "buffer.returns"
    name_the_mistake(
        buf.returns,
        {
            f"returns are the advantages alone: {target}": expected,
            f"you subtracted the values: {target}": expected - v,
            f"that is the one-step TD target r + gamma * V(s_t+1): {target}": r + 0.9 * next_values,
            f"that is the one-step TD target r + gamma * (1 - terminated) * V(s_t+1): {target}": (
                r + 0.9 * next_values * ~term
            ),
        },
        what,
    )
    assert_close(buf.returns, expected + v, what, hint=target)
    _check_minibatches(buf, data)


def _check_minibatches(buf: Any, data: dict[str, Tensor]) -> None:
    steps, envs = data["values"].shape
    batches = list(buf.minibatches(3, _gen(8)))
    if len(batches) != 3:
        raise ExerciseFailure(f"minibatches(3, ...) yielded {len(batches)} minibatches, not 3")
    seen = []
    for mb in batches:
        assert_shape(mb.obs, (steps * envs // 3, 2), "minibatch obs", hint="Flatten step and env.")
        for i, (t, e) in enumerate(mb.obs.long().tolist()):
            seen.append((t, e))
            got = (mb.actions[i], mb.logprobs[i], mb.values[i], mb.returns[i], mb.advantages[i])
            want = (
                data["actions"][t, e],
                data["logprobs"][t, e],
                data["values"][t, e],
                buf.returns[t, e],
                buf.advantages[t, e],
            )
            if not all(torch.equal(a, b) for a, b in zip(got, want, strict=True)):
                raise ExerciseFailure(
                    f"a minibatch row with obs of (step {t}, env {e}) carries another sample's "
                    "fields: index every field with the same permutation"
                )
    if sorted(seen) != [(t, e) for t in range(steps) for e in range(envs)]:
        raise ExerciseFailure("an epoch must use every (step, env) sample exactly once")
    if seen == sorted(seen):
        raise ExerciseFailure("minibatches are not shuffled: use torch.randperm(generator=...)")
    again = [mb.obs for mb in buf.minibatches(3, _gen(8))]
    if not all(torch.equal(a, b.obs) for a, b in zip(again, batches, strict=True)):
        raise ExerciseFailure("the same generator seed must give the same minibatches")
    try:
        list(buf.minibatches(4, _gen(8)))
    except ValueError:
        return
    raise ExerciseFailure(
        "minibatches(4) on 15 samples must raise ValueError (4 does not divide 15)"
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
