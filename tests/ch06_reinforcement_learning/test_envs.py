"""The vector envs: same-step autoreset, final observations, episode stats, state, errors."""

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Normal

from dlcurriculum.ch06_reinforcement_learning.agent import (
    ActionSpec,
    ActorCritic,
    sample_categorical,
)
from dlcurriculum.ch06_reinforcement_learning.envs import (
    PROBES,
    CartPoleVecEnv,
    GymnasiumVecEnv,
    make_vec_env,
)
from dlcurriculum.core.errors import DlcError


def test_cartpole_terminates_resets_in_the_same_step_and_reports_final_obs() -> None:
    env = make_vec_env("CartPole-v1", 3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 4) and obs.dtype == np.float32
    assert env.action == ActionSpec(True, 2)
    lengths = np.zeros(3, int)
    for _ in range(60):  # always pushing right ends every episode within ~10-40 steps
        obs, reward, terminated, truncated, info = env.step(np.ones(3, np.int64))
        lengths += 1
        assert not truncated.any() and (reward == 1.0).all()
        for i in np.flatnonzero(terminated):
            final = info["final_obs"][i]
            assert abs(final[2]) > 0.2 or abs(final[0]) > 2.4, "the final obs is the failure"
            assert np.abs(obs[i]).max() <= 0.05, "the returned obs is a fresh reset"
            assert info["_episode"][i] and info["episode"]["l"][i] == lengths[i]
            assert info["episode"]["r"][i] == lengths[i]
            lengths[i] = 0
    assert info["_final_obs"].dtype == bool


def _assert_same_steps(a: tuple, b: tuple) -> None:
    for x, y in zip(a[:4], b[:4], strict=True):  # obs, rewards, terminated, truncated
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    for key in ("final_obs", "_final_obs", "_episode"):
        np.testing.assert_array_equal(a[4][key], b[4][key])
    for key in ("r", "l"):
        np.testing.assert_array_equal(a[4]["episode"][key], b[4]["episode"][key])


def test_numpy_cartpole_follows_gymnasiums_trajectories_exactly() -> None:
    gym_env, ours = GymnasiumVecEnv("CartPole-v1", 4), make_vec_env("CartPole-v1", 4)
    assert isinstance(ours, CartPoleVecEnv)
    obs, _ = gym_env.reset(seed=5)
    np.testing.assert_array_equal(obs, ours.reset(seed=5)[0])
    rng = np.random.default_rng(0)
    noise = np.array([0.0, 0.02, 0.1, 0.5])  # per copy: from balancing to flailing
    ends = np.zeros(2, int)
    for t in range(3000):
        # a noisy balancing controller: episodes end by failure and by the time limit
        actions = ((obs[:, 2] + 0.5 * obs[:, 3] > 0) ^ (rng.random(4) < noise)).astype(np.int64)
        step = gym_env.step(actions)
        _assert_same_steps(step, ours.step(actions))
        obs = step[0]
        ends += step[2].sum(), step[3].sum()
        if t == 1500:  # a checkpoint of the old env resumes in the new one
            legacy = CartPoleVecEnv(4)
            legacy.set_state(gym_env.get_state())
            ours = legacy
    assert ends.min() > 0, f"terminations and truncations {ends}"


def test_sample_categorical_draws_what_multinomial_draws() -> None:
    probs = torch.softmax(torch.randn(64, 15), -1)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    for _ in range(20):
        expected = torch.multinomial(probs, 1, generator=g1).squeeze(-1)
        assert torch.equal(sample_categorical(probs, g2), expected)


def test_state_round_trip_continues_identically() -> None:
    for env_id in ("CartPole-v1", "probe-obs-action"):
        env = make_vec_env(env_id, 4)
        env.reset(seed=3)
        actions = np.random.default_rng(0).integers(0, 2, size=(30, 4))
        saved = env.get_state()
        first = [env.step(a)[0] for a in actions]
        env.set_state(saved)
        again = [env.step(a)[0] for a in actions]
        np.testing.assert_array_equal(np.stack(first), np.stack(again))


def test_probe_timelimit_truncates_and_keeps_the_final_obs() -> None:
    env = make_vec_env("probe-timelimit", 2)
    env.reset(seed=0)
    for t in range(5):
        _, reward, terminated, truncated, info = env.step(np.zeros(2, np.int64))
        assert (reward == 1).all() and not terminated.any()
        assert truncated.all() == (t == 4)
    assert info["_final_obs"].all() and (info["episode"]["l"] == 5).all()


def test_every_probe_runs() -> None:
    for name in PROBES:
        env = make_vec_env(name, 4)
        obs, _ = env.reset(seed=0)
        act = np.zeros((4, 1), np.float32) if not env.action.discrete else np.zeros(4, np.int64)
        step = env.step(act)
        assert step[0].shape == obs.shape == (4, 1)


@pytest.mark.parametrize(
    ("env_id", "message"),
    [
        ("CartPol-v1", "unknown environment 'CartPol-v1'"),
        ("starpilott", "unknown environment 'starpilott'"),
        ("probe-nope", "unknown probe 'probe-nope'"),
        ("Blackjack-v1", "not supported"),
    ],
)
def test_bad_environments_are_one_clear_error(env_id: str, message: str) -> None:
    with pytest.raises(DlcError, match=message):
        make_vec_env(env_id, 1)


def test_box_actions_get_a_gaussian_policy_whose_logprob_matches_torch() -> None:
    env = make_vec_env("Pendulum-v1", 2)
    assert not env.action.discrete and env.action.low == (-2.0,)
    agent = ActorCritic(env.obs_shape, env.action)
    obs = torch.as_tensor(env.reset(seed=0)[0])
    action, logprob, entropy, value = agent.get_action_and_value(obs)
    mean = agent.actor_head(agent.actor_trunk(obs))
    dist = Normal(mean, agent.log_std.exp())
    torch.testing.assert_close(logprob, dist.log_prob(action).sum(-1))
    torch.testing.assert_close(entropy, dist.entropy().sum(-1))
    assert value.shape == (2,)
    env.step(np.full((2, 1), 5.0, np.float32))  # out of bounds: clipped, not an error


def test_categorical_policy_matches_torch_and_shared_trunk_shares() -> None:
    agent = ActorCritic((4,), ActionSpec(True, 3), shared_trunk=True)
    assert agent.actor_trunk is agent.critic_trunk
    obs = torch.randn(5, 4)
    action, logprob, entropy, _ = agent.get_action_and_value(obs)
    dist = Categorical(logits=agent.actor_head(agent.actor_trunk(obs)))
    torch.testing.assert_close(logprob, dist.log_prob(action))
    torch.testing.assert_close(entropy, dist.entropy())
    greedy = agent.get_action_and_value(obs, deterministic=True)[0]
    assert torch.equal(greedy, dist.probs.argmax(-1))


def test_procgen_adapter_gives_uint8_frames_and_restores_state() -> None:
    env = make_vec_env("starpilot", 3)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (3, 64, 64, 3) and obs.dtype == np.uint8
    assert env.action == ActionSpec(True, 15)
    actions = np.random.default_rng(0).integers(0, 15, size=(20, 3))
    saved = env.get_state()
    first = [env.step(a)[0] for a in actions]
    env.set_state(saved)
    np.testing.assert_array_equal(np.stack(first), np.stack([env.step(a)[0] for a in actions]))
    again = make_vec_env("starpilot", 3)
    np.testing.assert_array_equal(again.reset(seed=1)[0], obs)  # seeded: reproducible levels
    frame = env.render()
    assert frame is not None and frame.shape == (256, 256, 3)
    agent = ActorCritic(env.obs_shape, env.action, "impala", impala_channels=(4, 8, 8))
    assert agent.get_value(torch.as_tensor(obs)).shape == (3,)
    env.close()
