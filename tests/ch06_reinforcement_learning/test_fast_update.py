"""The hand-derived PPO gradient against autograd through the reference losses."""

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from dlcurriculum.ch06_reinforcement_learning import fast_update, losses
from dlcurriculum.ch06_reinforcement_learning.agent import ActionSpec, ActorCritic
from dlcurriculum.ch06_reinforcement_learning.buffer import Minibatch
from dlcurriculum.ch06_reinforcement_learning.config import PRESETS
from dlcurriculum.ch06_reinforcement_learning.ppo import train
from dlcurriculum.core import runs

from .helpers import metrics_without_clock


def _agent(obs_dim: int = 4, n_actions: int = 2) -> ActorCritic:
    torch.manual_seed(0)
    return ActorCritic((obs_dim,), ActionSpec(True, n_actions))


def _minibatch(agent: ActorCritic, n: int = 256, seed: int = 1) -> Minibatch:
    """Old log-probs and values moved off the current ones, so that ratios and values are
    clipped for part of the batch."""
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, agent.actor_trunk[0].in_features, generator=g)
    with torch.no_grad():
        action, logprob, _, value = agent.get_action_and_value(obs, generator=g)
    return Minibatch(
        obs,
        action,
        logprob + 0.3 * torch.randn(n, generator=g),
        value + 0.3 * torch.randn(n, generator=g),
        torch.randn(n, generator=g),
        torch.randn(n, generator=g),
    )


def _autograd(
    agent: ActorCritic, mb: Minibatch, clip: float, clip_vloss: bool, ent: float, vf: float,
    max_norm: float,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:  # fmt: skip
    _, logprob, entropy, value = agent.get_action_and_value(mb.obs, mb.actions)
    pg = losses.clipped_surrogate(logprob, mb.logprobs, mb.advantages, clip)
    v = losses.value_loss(value, mb.values, mb.returns, clip if clip_vloss else None)
    loss = losses.ppo_loss(pg, v, entropy, ent, vf)
    agent.zero_grad(set_to_none=True)
    loss.backward()
    norm = nn.utils.clip_grad_norm_(agent.parameters(), max_norm)
    figures = [loss, pg, v, entropy.mean(), logprob, norm]
    return [f.detach() for f in figures], [p.grad.clone() for p in agent.parameters()]


@pytest.mark.parametrize("clip_vloss", [False, True])
@pytest.mark.parametrize("ent_coef", [0.0, 0.01])
@pytest.mark.parametrize("max_norm", [1e9, 0.1])
def test_gradient_equals_autograds(clip_vloss: bool, ent_coef: float, max_norm: float) -> None:
    agent = _agent(n_actions=3)
    mb = _minibatch(agent)
    want, want_grads = _autograd(agent, mb, 0.2, clip_vloss, ent_coef, 0.7, max_norm)
    got = fast_update.loss_and_grad(agent, mb, 0.2, clip_vloss, ent_coef, 0.7, max_norm)
    for w, g in zip(want, got, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
    for p, w in zip(agent.parameters(), want_grads, strict=True):
        torch.testing.assert_close(p.grad, w, rtol=1e-4, atol=1e-7)
    ratio = (got[4] - mb.logprobs).exp()
    assert ((ratio - 1).abs() > 0.2).float().mean() > 0.1, "the batch exercises the clip"
    assert (want[-1] > max_norm) == (max_norm < 1e9), "the norm clips exactly when it should"


def test_gradient_survives_a_reset_of_the_grads() -> None:
    """zero_grad(set_to_none) or autograd in between: the next call rebuilds its buffer."""
    agent = _agent()
    mb = _minibatch(agent)
    fast_update.loss_and_grad(agent, mb, 0.2, False, 0.0, 1.0, 0.5)
    first = [p.grad.clone() for p in agent.parameters()]
    agent.zero_grad(set_to_none=True)
    _autograd(agent, mb, 0.2, False, 0.0, 1.0, 0.5)
    fast_update.loss_and_grad(agent, mb, 0.2, False, 0.0, 1.0, 0.5)
    for p, w in zip(agent.parameters(), first, strict=True):
        assert torch.equal(p.grad, w)


def test_act_equals_the_agents_own_numbers_to_the_bit() -> None:
    agent = _agent()
    obs = torch.randn(8, 4)
    got = fast_update.act(agent, obs, torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = agent.get_action_and_value(obs, generator=torch.Generator().manual_seed(3))
    for g, w in zip(got, (want[0], want[1], want[3]), strict=True):
        assert torch.equal(g, w)


def test_applies_only_to_two_mlp_trunks_with_discrete_actions() -> None:
    assert fast_update.applies(_agent())
    assert not fast_update.applies(ActorCritic((4,), ActionSpec(True, 2), shared_trunk=True))
    assert not fast_update.applies(ActorCritic((4,), ActionSpec(False, 1, (-1.0,), (1.0,))))
    assert not fast_update.applies(ActorCritic((16, 16, 3), ActionSpec(True, 2), "impala"))


def test_training_follows_the_autograd_route(tmp_path: Path) -> None:
    """Three updates of CartPole: the two routes' metrics agree within float rounding (they
    part later, as any two roundings of a chaotic system do)."""
    cfg = dataclasses.replace(
        PRESETS["ppo-cartpole"]["smoke"], total_timesteps=768, eval_every=0, gif_episodes=0
    )
    train(cfg, tmp_path / "fast")
    train(dataclasses.replace(cfg, fast_path=False), tmp_path / "autograd")
    fast = metrics_without_clock(tmp_path / "fast")
    slow = metrics_without_clock(tmp_path / "autograd")
    assert len(fast) == len(slow) == 3
    for f, s in zip(fast, slow, strict=True):
        assert f.keys() == s.keys()
        for key in f:
            assert f[key] == pytest.approx(s[key], rel=1e-3, abs=1e-5), key


def test_the_learners_code_never_takes_the_fast_path(tmp_path: Path, monkeypatch) -> None:
    """--impl (or functions passed in) must run the learner's losses through autograd."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("fast path taken")

    monkeypatch.setattr(fast_update, "loss_and_grad", refuse)
    cfg = dataclasses.replace(
        PRESETS["ppo-cartpole"]["smoke"], total_timesteps=256, eval_every=0, gif_episodes=0
    )
    from dlcurriculum.ch06_reinforcement_learning.impl import load_impl

    train(cfg, tmp_path / "ns", ns=load_impl(""))
    assert runs.read_metrics(tmp_path / "ns")
    with pytest.raises(AssertionError, match="fast path taken"):
        train(cfg, tmp_path / "reference")
