"""Grader checks for chapter 6: GAE, the PPO losses, the diagnostics, the rollout buffer.

Every check compares the learner's code with an independent oracle — a closed form (the
discounted return of a single terminal reward), a plain Python loop over samples written
in another form (the piecewise clipped objective), exact categorical KL, numpy — and
recognises the common mistakes (mixing terminated and truncated, a missing minus sign, the
mean taken before the min) to say which one was made.
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from dlcurriculum.ch06_reinforcement_learning.loss_checks import (  # graded via this module
    _gen,
    check_approx_kl,
    check_clipped_surrogate,
    check_explained_variance,
    check_normalize_advantages,
    check_ppo_loss,
    check_value_loss,
)
from dlcurriculum.core.checks import (
    ExerciseFailure,
    assert_close,
    assert_shape,
    name_the_mistake,
)

__all__ = [
    "check_approx_kl",
    "check_clipped_surrogate",
    "check_compute_gae",
    "check_explained_variance",
    "check_normalize_advantages",
    "check_ppo_loss",
    "check_rollout_buffer",
    "check_value_loss",
]


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
