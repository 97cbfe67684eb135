"""GAE against numbers worked out by hand and SB3's closed form for a single terminal reward."""

import pytest
import torch

from dlcurriculum.ch06_reinforcement_learning.gae import compute_gae

GAMMA, LAM = 0.5, 0.5
REWARDS = torch.tensor([[1.0], [2.0], [3.0]])
VALUES = torch.tensor([[0.5], [1.0], [1.5]])
NEXT = torch.tensor([[1.0], [1.5], [2.0]])
NO = torch.zeros(3, 1, dtype=torch.bool)


def _flag(t: int) -> torch.Tensor:
    flags = NO.clone()
    flags[t] = True
    return flags


def test_by_hand_without_episode_ends() -> None:
    # deltas: 1 + .5*1 - .5 = 1.0, 2 + .5*1.5 - 1 = 1.75, 3 + .5*2 - 1.5 = 2.5
    # A2 = 2.5, A1 = 1.75 + .25*2.5 = 2.375, A0 = 1 + .25*2.375 = 1.59375
    got = compute_gae(REWARDS, VALUES, NEXT, NO, NO, GAMMA, LAM)
    torch.testing.assert_close(got, torch.tensor([[1.59375], [2.375], [2.5]]))


def test_termination_mid_rollout_does_not_bootstrap_or_carry() -> None:
    # delta1 = 2 + 0 - 1 = 1.0 and A1 stops there; A0 = 1 + .25*1 = 1.25
    got = compute_gae(REWARDS, VALUES, NEXT, _flag(1), NO, GAMMA, LAM)
    torch.testing.assert_close(got, torch.tensor([[1.25], [1.0], [2.5]]))


def test_truncation_bootstraps_from_the_final_value_but_does_not_carry() -> None:
    next_values = NEXT.clone()
    next_values[1] = 4.0  # V(final observation) of the cut episode
    # delta1 = 2 + .5*4 - 1 = 3.0, A1 = 3.0 (no carry), A0 = 1 + .25*3 = 1.75
    got = compute_gae(REWARDS, VALUES, next_values, NO, _flag(1), GAMMA, LAM)
    torch.testing.assert_close(got, torch.tensor([[1.75], [3.0], [2.5]]))


@pytest.mark.parametrize(("gamma", "lam"), [(0.99, 1.0), (0.9, 0.95), (0.98, 0.8)])
def test_single_terminal_reward_closed_form(gamma: float, lam: float) -> None:
    """SB3 test_gae: with zero values, A_t = (gamma * lambda)^(steps to the end)."""
    length = 7
    rewards = torch.zeros(length, 2)
    rewards[-1] = 1.0
    terminated = torch.zeros(length, 2, dtype=torch.bool)
    terminated[-1] = True
    zeros = torch.zeros(length, 2)
    got = compute_gae(rewards, zeros, zeros, terminated, terminated & False, gamma, lam)
    expected = (gamma * lam) ** torch.arange(length - 1, -1, -1.0)
    torch.testing.assert_close(got, expected[:, None].expand(length, 2))


def test_envs_are_independent_and_no_gradient_flows() -> None:
    g = torch.Generator().manual_seed(0)
    r, v, n = (torch.randn(6, 4, generator=g) for _ in range(3))
    term = torch.rand(6, 4, generator=g) < 0.2
    trunc = (torch.rand(6, 4, generator=g) < 0.2) & ~term
    v.requires_grad_()
    together = compute_gae(r, v, n, term, trunc, 0.9, 0.8)
    assert not together.requires_grad
    for e in range(4):
        alone = compute_gae(
            r[:, e : e + 1], v[:, e : e + 1], n[:, e : e + 1], term[:, e : e + 1],
            trunc[:, e : e + 1], 0.9, 0.8,
        )  # fmt: skip
        torch.testing.assert_close(together[:, e : e + 1], alone)
