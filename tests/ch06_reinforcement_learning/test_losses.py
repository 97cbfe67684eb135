"""The PPO losses and diagnostics against loops and closed forms, and their edge cases."""

import math

import numpy as np
import torch

from dlcurriculum.ch06_reinforcement_learning.loss_checks import _surrogate_loop, _value_loss_loop
from dlcurriculum.ch06_reinforcement_learning.losses import (
    approx_kl,
    clip_fraction,
    clipped_surrogate,
    explained_variance,
    value_loss,
)
from dlcurriculum.ch06_reinforcement_learning.normalization import RewardNormalizer, RunningMeanStd


def test_clipped_surrogate_matches_the_piecewise_loop_and_is_zero_at_ratio_one() -> None:
    g = torch.Generator().manual_seed(0)
    old = torch.randn(32, generator=g)
    new = old + 0.5 * torch.randn(32, generator=g)
    adv = torch.randn(32, generator=g)
    for clip in (0.1, 0.2, 0.5):
        got = clipped_surrogate(new, old, adv, clip).item()
        assert math.isclose(got, _surrogate_loop(new, old, adv, clip), rel_tol=1e-5, abs_tol=1e-6)
    # at ratio 1 the loss is -mean(A): it maximises advantage-weighted probability
    assert math.isclose(
        clipped_surrogate(old, old, adv, 0.2).item(), -adv.mean().item(), rel_tol=1e-5
    )


def test_value_loss_plain_and_clipped() -> None:
    values, old, returns = (
        torch.tensor([2.0, 0.0]),
        torch.tensor([1.0, 0.0]),
        torch.tensor([3.0, 1.0]),
    )
    assert value_loss(values, old, returns, None).item() == 0.5 * (1.0 + 1.0) / 2
    # sample 0 moved from 1 to 2 (beyond the 0.2 range): the clipped error (1.2 - 3)^2 wins
    expected = 0.5 * (max(1.0, 1.8**2) + 1.0) / 2
    assert math.isclose(value_loss(values, old, returns, 0.2).item(), expected, rel_tol=1e-6)
    assert math.isclose(expected, _value_loss_loop(values, old, returns, 0.2), rel_tol=1e-6)


def test_approx_kl_estimates_the_exact_kl_and_clip_fraction_counts() -> None:
    p, q = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.45, 0.33, 0.22])
    exact = float((p * (p / q).log()).sum())
    a = torch.multinomial(p, 100_000, replacement=True, generator=torch.Generator().manual_seed(1))
    assert abs(approx_kl(q.log()[a], p.log()[a]).item() - exact) < 0.1 * exact
    assert approx_kl(p.log(), p.log()).item() == 0.0
    new, old = torch.log(torch.tensor([1.0, 1.1, 1.3, 0.7])), torch.zeros(4)
    assert clip_fraction(new, old, 0.2) == 0.5  # ratios 1.3 and 0.7 leave [0.8, 1.2]


def test_explained_variance_edge_cases() -> None:
    t = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(t, t) == 1.0
    assert explained_variance(torch.full((4,), 2.5), t) == 0.0
    assert explained_variance(t + 10.0, t) == 1.0  # a constant offset is not penalised
    assert explained_variance(-t, t) < 0
    assert math.isnan(explained_variance(t, torch.ones(4)))


def test_running_mean_std_matches_numpy_over_batches() -> None:
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 2)) for n in (5, 17, 1, 40)]
    stats = RunningMeanStd(shape=(2,), epsilon=0.0)  # no pseudo-count: exact statistics
    for b in batches:
        stats.update(b)
    everything = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, everything.mean(0))
    np.testing.assert_allclose(stats.var, everything.var(0))


def test_reward_normalizer_scales_by_the_discounted_return_and_resets_on_done() -> None:
    norm = RewardNormalizer(num_envs=2, gamma=0.5)
    norm.stats = RunningMeanStd(epsilon=0.0)  # no pseudo-count: exact statistics
    done = np.array([False, True])
    norm(np.array([1.0, 1.0]), done)
    # env 1's episode ended: its running return restarts, env 0's keeps accumulating
    np.testing.assert_allclose(norm.returns, [1.0, 0.0])
    scaled = norm(np.array([2.0, 2.0]), np.array([False, False]))
    seen = np.array([1.0, 1.0, 2.5, 2.0])  # R after each update: 1, 1, then .5*1 + 2, 0 + 2
    np.testing.assert_allclose(scaled, np.array([2.0, 2.0]) / seen.std(), rtol=1e-5)
