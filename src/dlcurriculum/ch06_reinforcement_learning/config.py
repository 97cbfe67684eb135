"""PPOConfig: every switch of the PPO implementation, with cleanrl's names.

The training loop, the evaluation and both experiments share this one frozen config; the
presets live in experiments.py. Field names follow cleanrl's `ppo.py`, so they can be read
side by side with the Procgen paper's table and with cleanrl's and SB3's documentation.
"""

import dataclasses
from dataclasses import dataclass
from typing import Literal

from dlcurriculum.core.config import RunConfig, check, one_of, require


@dataclass(frozen=True)
class PPOConfig(RunConfig):
    """Proximal policy optimization on one environment, for one or several seeds."""

    env: str = "CartPole-v1"
    """A Gymnasium id, a Procgen game (e.g. starpilot) or a probe (e.g. probe-constant)."""
    distribution_mode: Literal["easy", "hard"] = "easy"
    """Procgen: the easy or hard level distribution."""
    num_levels: int = 0
    """Procgen: number of distinct levels to train on (0 = unlimited)."""
    start_level: int = 0
    """Procgen: seed of the first level."""
    network: Literal["mlp", "impala"] = "mlp"
    """mlp for vector observations, impala (the IMPALA CNN) for images."""
    hidden: int = 64
    """MLP: width of the two tanh hidden layers."""
    shared_trunk: bool = False
    """Actor and critic share their trunk (True) or each have their own (False)."""
    impala_channels: tuple[int, ...] = (16, 32, 32)
    """IMPALA CNN: channels of each conv stack."""
    downsample: int = 1
    """IMPALA CNN: average-pool the frame by this factor first (2 = 32x32; CPU presets)."""
    total_timesteps: int = 100_000
    """Environment steps per seed (all copies together)."""
    num_envs: int = 8
    """Environment copies stepped together."""
    num_steps: int = 32
    """Steps per copy per rollout; a rollout holds num_envs * num_steps samples."""
    num_minibatches: int = 1
    """Minibatches per epoch (must divide the rollout)."""
    update_epochs: int = 20
    """Passes over each rollout."""
    learning_rate: float = 1e-3
    """Adam's step size (at the start, if annealed)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over training."""
    adam_eps: float = 1e-5
    """Adam's epsilon (1e-5 as in the PPO implementations, not torch's 1e-8)."""
    gamma: float = 0.98
    """Discount factor."""
    gae_lambda: float = 0.8
    """GAE's lambda: 0 = one-step TD errors, 1 = Monte Carlo returns."""
    clip_coef: float = 0.2
    """The surrogate's clip range epsilon (at the start, if annealed)."""
    anneal_clip: bool = True
    """Decay the clip range linearly to 0 over training (as rl-zoo's CartPole settings)."""
    clip_vloss: bool = False
    """Clip the value loss around the old values with the same range."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 1.0
    """Weight of the value loss (ours is 0.5 * MSE, so 1.0 matches SB3's 0.5 * MSE-loss)."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm to this."""
    norm_adv: bool = True
    """Normalize advantages over each rollout (mean 0, std 1)."""
    norm_reward: bool = False
    """Scale rewards by the running std of the discounted return (Engstrom et al. 2020, sec. 3)."""
    target_kl: float | None = None
    """Stop an update's epochs early once its approximate KL exceeds this (None = never)."""
    num_seeds: int = 1
    """Independent trainings with seeds seed, seed + 1, ...; the report shows every curve."""
    eval_every: int = 5_120
    """Environment steps between evaluations (0 = only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation, one per environment copy."""
    eval_deterministic: bool = True
    """Evaluate the most likely action (True) or sample from a seeded stream (False)."""
    target_return: float = 475.0
    """Mean evaluation return that counts as solved."""
    target_time_s: float = 120.0
    """Training seconds (evaluation excluded) within which a seed must reach the target."""
    min_seeds_solved: int = 1
    """Seeds that must reach the target in time for the criterion to pass."""
    random_episodes: int = 0
    """Episodes of a uniformly random policy measured first, as the baseline (0 = none)."""
    min_sigmas_over_random: float = 3.0
    """Standard errors by which the last training episodes' mean return must beat the random
    baseline (ppo-procgen's criterion)."""
    gif_episodes: int = 2
    """Evaluation episodes of the first seed recorded to eval.gif (0 = no GIF)."""
    checkpoint_every: int = 50
    """Updates between checkpoints (one is always written at the end)."""
    fast_path: bool = False
    """Take the MLP agent's gradient from the hand-derived fast_update.py instead of autograd:
    the same losses, 2x faster steps (discrete actions, two trunks; always off with --impl)."""
    num_threads: int = 1
    """torch CPU threads (1 is fastest for small networks on a busy machine; 0 = default)."""

    def __post_init__(self) -> None:
        check(self, "num_levels", "start_level", "eval_every", ge=0)  # 0 = unlimited / at the end
        check(self, "random_episodes", "gif_episodes", "num_threads", ge=0)  # 0 = none / default
        check(self, "hidden", "impala_channels", "total_timesteps", "num_envs", "num_steps", ge=1)
        check(self, "num_minibatches", "update_epochs", "num_seeds", "eval_episodes", ge=1)
        check(self, "checkpoint_every", "min_seeds_solved", ge=1)
        one_of(self, "downsample", (1, 2, 4))
        check(self, "learning_rate", "adam_eps", "clip_coef", "max_grad_norm", gt=0)
        check(self, "target_time_s", gt=0)
        if self.target_kl is not None:
            check(self, "target_kl", gt=0)
        check(self, "gamma", "gae_lambda", ge=0, le=1)
        check(self, "ent_coef", "vf_coef", "min_sigmas_over_random", ge=0)
        # target_return may be any number: Pendulum's and probe-continuous's returns are < 0
        require(
            self.batch_size >= 2,
            f"num_envs * num_steps must be at least 2 (advantages are normalized by their std "
            f"over a rollout), got {self.num_envs} * {self.num_steps}: raise either",
        )
        require(
            self.batch_size % self.num_minibatches == 0,
            f"num_minibatches ({self.num_minibatches}) must divide the rollout of num_envs * "
            f"num_steps = {self.num_envs} * {self.num_steps} = {self.batch_size} samples: "
            "choose a divisor of it",
        )
        require(
            self.total_timesteps >= self.batch_size,
            f"total_timesteps ({self.total_timesteps}) must cover at least one rollout of "
            f"num_envs * num_steps = {self.batch_size} steps: raise total_timesteps or lower "
            "num_envs or num_steps",
        )
        require(
            self.min_seeds_solved <= self.num_seeds,
            f"min_seeds_solved ({self.min_seeds_solved}) must be at most num_seeds "
            f"({self.num_seeds})",
        )

    @property
    def batch_size(self) -> int:
        """Samples per rollout: num_envs * num_steps."""
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        """Samples per gradient step."""
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        """PPO updates (rollout + epochs) per seed."""
        return self.total_timesteps // self.batch_size


_CARTPOLE = {
    "smoke": PPOConfig(
        total_timesteps=8192,
        eval_every=4096,
        eval_episodes=5,
        gif_episodes=1,
        checkpoint_every=8,
        fast_path=True,
    ),
    "quick": PPOConfig(total_timesteps=50_000, num_seeds=5, min_seeds_solved=4, fast_path=True),
    "full": PPOConfig(total_timesteps=100_000, num_seeds=10, min_seeds_solved=9, fast_path=True),
}

# Cobbe et al. 2020, table 2 (easy mode): 64 envs x 256 steps, gamma 0.999, lambda 0.95,
# 3 epochs of 8 minibatches, clip 0.2, entropy 0.01, lr 5e-4, reward scaling, value clipping
_PROCGEN_FULL = PPOConfig(
    env="starpilot",
    network="impala",
    shared_trunk=True,
    total_timesteps=25_000_000,
    num_envs=64,
    num_steps=256,
    num_minibatches=8,
    update_epochs=3,
    learning_rate=5e-4,
    anneal_lr=False,
    gamma=0.999,
    gae_lambda=0.95,
    clip_coef=0.2,
    anneal_clip=False,
    clip_vloss=True,
    ent_coef=0.01,
    vf_coef=0.5,
    norm_reward=True,
    eval_every=1_000_000,
    eval_episodes=64,
    eval_deterministic=False,
    random_episodes=256,
    gif_episodes=3,
    checkpoint_every=20,
    num_threads=0,
)
_PROCGEN = {
    "smoke": dataclasses.replace(
        _PROCGEN_FULL,
        impala_channels=(4, 8, 8),
        downsample=2,
        total_timesteps=512,
        num_envs=4,
        num_steps=64,
        num_minibatches=2,
        eval_every=0,
        eval_episodes=2,
        random_episodes=4,
        gif_episodes=1,
        checkpoint_every=1,
        num_threads=1,
    ),
    # a CPU-sized start of the curve: smaller CNN on 2x-downsampled frames, fewer envs
    "quick": dataclasses.replace(
        _PROCGEN_FULL,
        impala_channels=(8, 16, 16),
        downsample=2,
        total_timesteps=300_000,
        num_envs=32,
        num_steps=128,
        eval_every=0,
        eval_episodes=32,
        random_episodes=128,
        checkpoint_every=10,
        num_threads=1,
    ),
    "full": _PROCGEN_FULL,
}


PRESETS: dict[str, dict[str, PPOConfig]] = {"ppo-cartpole": _CARTPOLE, "ppo-procgen": _PROCGEN}
"""Every experiment's smoke, quick and full presets, by experiment name."""
