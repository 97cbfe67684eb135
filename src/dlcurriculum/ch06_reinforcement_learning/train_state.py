"""The training state of a PPO run: everything that changes as it trains.

A checkpoint is a snapshot of this state, so a run resumed from one continues exactly as
if it had never stopped: same weights, optimizer moments, environment states (physics,
level, RNG), reward-normalizer statistics and random streams.
"""

import copy
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
from dlcurriculum.core.seed import rng_state, seed_everything, set_rng_state


@dataclass
class TrainState:
    """Everything a PPO run changes as it trains: exactly what a checkpoint holds."""

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
    state: dict[str, Any] = field(
        default_factory=lambda: {
            "update": 0,
            "global_step": 0,
            "train_s": 0.0,
            "episodes": 0,
            "recent": deque(maxlen=100),  # the last 100 training episodes' raw returns
            "last_eval": None,
            "best_eval": None,
            "steps_to_target": None,
            "time_to_target_s": None,
        }
    )

    def snapshot(self) -> dict[str, Any]:
        """A copy of the whole training state (a checkpoint's contents) that later training
        does not change. Taken before every update, so it must be cheap: tensors are cloned
        and only the small mutable containers deep-copied (copy.deepcopy of everything would
        cost more than a CartPole update)."""
        return {
            "model": _cloned(self.agent.state_dict()),
            "optimizer": _cloned(self.optimizer.state_dict()),
            "normalizer": self.normalizer.state_dict() if self.normalizer else None,
            "envs": self.envs.get_state(),  # bytes: immutable
            "obs": self.obs.copy(),
            "generators": (self.act_gen.get_state(), self.shuffle_gen.get_state()),
            "rng": rng_state(),  # fresh objects already
            "state": copy.deepcopy(self.state),
        }

    def restore(self, saved: dict[str, Any]) -> None:
        """Continue from a snapshot: the rest of the run is as if it had never stopped."""
        self.agent.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.normalizer is not None:
            self.normalizer.load_state_dict(saved["normalizer"])
        self.envs.set_state(saved["envs"])
        self.obs, self.state = saved["obs"], saved["state"]
        self.act_gen.set_state(saved["generators"][0])
        self.shuffle_gen.set_state(saved["generators"][1])
        set_rng_state(saved["rng"])


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
