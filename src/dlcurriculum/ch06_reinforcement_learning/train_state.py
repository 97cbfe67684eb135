"""The training state of a PPO run: everything that changes as it trains.

A checkpoint holds all of it (through core.training.TrainingSession), so a run resumed from
one continues exactly as if it had never stopped: same weights, optimizer moments,
environment states (physics, level, RNG), reward-normalizer statistics and random streams.
"""

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dlcurriculum.ch06_reinforcement_learning.agent import ActorCritic
from dlcurriculum.ch06_reinforcement_learning.config import PPOConfig
from dlcurriculum.ch06_reinforcement_learning.envs import VecEnv
from dlcurriculum.ch06_reinforcement_learning.evaluation import build_agent, make_env
from dlcurriculum.ch06_reinforcement_learning.normalization import RewardNormalizer
from dlcurriculum.core.seed import seed_everything
from dlcurriculum.core.training import Checkpointed, Stateful


@dataclass
class PPOProgress:
    """What a PPO run has done so far: a checkpoint's "state" (the keys of older runs)."""

    update: int = 0
    global_step: int = 0
    train_s: float = 0.0
    episodes: int = 0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    """The last 100 training episodes' raw returns."""
    last_eval: float | None = None
    best_eval: float | None = None
    steps_to_target: int | None = None
    time_to_target_s: float | None = None

    @property
    def step(self) -> int:
        """Metrics and checkpoints are indexed by environment steps."""
        return self.global_step


@dataclass
class TrainState:
    """The objects a PPO run trains and steps: with PPOProgress, what a checkpoint holds."""

    agent: ActorCritic
    optimizer: torch.optim.Optimizer
    envs: VecEnv
    normalizer: RewardNormalizer | None
    act_gen: torch.Generator
    """Samples the actions of rollouts (on the agent's device)."""
    shuffle_gen: torch.Generator
    """Shuffles the minibatches."""
    obs: np.ndarray
    """The observations the next rollout starts from."""

    def stateful(self) -> dict[str, Stateful]:
        """The checkpoint's entries, by the keys older runs used. A checkpoint is taken before
        every update, so it must be cheap: tensors are cloned, not deep-copied (deepcopy of
        everything would cost more than a CartPole update)."""
        agent, optimizer, normalizer = self.agent, self.optimizer, self.normalizer
        return {
            "model": Checkpointed(lambda: _cloned(agent.state_dict()), agent.load_state_dict),
            "optimizer": Checkpointed(
                lambda: _cloned(optimizer.state_dict()), optimizer.load_state_dict
            ),
            "normalizer": Checkpointed(
                lambda: normalizer.state_dict() if normalizer else None,
                lambda state: normalizer.load_state_dict(state) if normalizer else None,
            ),
            "envs": Checkpointed(self.envs.get_state, self.envs.set_state),  # bytes: immutable
            "obs": Checkpointed(lambda: self.obs.copy(), self._set_obs),
            "generators": Checkpointed(
                lambda: (self.act_gen.get_state(), self.shuffle_gen.get_state()),
                self._set_generators,
            ),
        }

    def _set_obs(self, obs: np.ndarray) -> None:
        self.obs = obs

    def _set_generators(self, states: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.act_gen.set_state(states[0])
        self.shuffle_gen.set_state(states[1])


def _cloned(tree: Any) -> Any:
    """Tensors cloned, dicts and lists rebuilt, other leaves (numbers, strings) shared."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().clone()
    if isinstance(tree, dict):
        return {k: _cloned(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(_cloned(v) for v in tree)
    return tree


def make_optimizer(params: list[nn.Parameter], cfg: PPOConfig) -> torch.optim.Optimizer:
    """Adam with eps 1e-5; the fused kernel where torch has it (3-4x faster for small nets)."""
    try:
        return torch.optim.Adam(params, lr=cfg.learning_rate, eps=cfg.adam_eps, fused=True)
    except RuntimeError:  # torch < 2.4 has no fused Adam on the CPU
        return torch.optim.Adam(params, lr=cfg.learning_rate, eps=cfg.adam_eps)


def make_train_state(cfg: PPOConfig, device: torch.device) -> TrainState:
    """A fresh agent, optimizer and environments for cfg.seed."""
    seed_everything(cfg.seed)
    envs = make_env(cfg, cfg.num_envs)
    agent = build_agent(cfg, envs).to(device)
    obs, _ = envs.reset(seed=cfg.seed)
    return TrainState(
        agent=agent,
        optimizer=make_optimizer(list(agent.parameters()), cfg),
        envs=envs,
        normalizer=RewardNormalizer(cfg.num_envs, cfg.gamma) if cfg.norm_reward else None,
        act_gen=torch.Generator(device=device).manual_seed(cfg.seed),
        shuffle_gen=torch.Generator().manual_seed(cfg.seed + 1),
        obs=obs,
    )
