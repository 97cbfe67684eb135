"""Small configs and a metrics reader shared by chapter 6's tests."""

import dataclasses
import json
from pathlib import Path
from typing import Any

from dlcurriculum.ch06_reinforcement_learning.config import PPOConfig
from dlcurriculum.ch06_reinforcement_learning.ppo import WALL_CLOCK_KEYS

QUIET = {"eval_every": 0, "eval_episodes": 2, "gif_episodes": 0, "checkpoint_every": 1000}


def probe_config(env: str, **changes: Any) -> PPOConfig:
    """A PPO config that solves a probe in a second or two (no reward scaling: answers are raw)."""
    base = PPOConfig(
        env=env,
        num_envs=8,
        num_steps=16,
        total_timesteps=3072,
        num_minibatches=2,
        update_epochs=4,
        learning_rate=3e-3,
        anneal_lr=False,
        anneal_clip=False,
        gamma=0.9,
        gae_lambda=1.0,
        target_return=0.0,
        **QUIET,
    )
    return dataclasses.replace(base, **changes)


def metrics_without_clock(run_dir: Path) -> list[dict[str, Any]]:
    """metrics.jsonl rows without the wall-clock keys (the rest must be reproducible)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in WALL_CLOCK_KEYS} for r in rows]
