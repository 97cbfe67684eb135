"""Evaluation: reproducible episodes of a policy, the random baseline, GIFs, `dlc eval`.

An evaluation plays one episode in each of `episodes` fresh environment copies, seeded
apart from training, and reports their returns. The same seeds are used at every
evaluation, so successive evaluations of one run are comparable, and `dlc eval RUN_DIR`
reproduces the last one exactly.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlcurriculum.ch06_reinforcement_learning.agent import ActorCritic
from dlcurriculum.ch06_reinforcement_learning.config import PPOConfig
from dlcurriculum.ch06_reinforcement_learning.envs import VecEnv, make_vec_env
from dlcurriculum.core import runs
from dlcurriculum.core.config import from_dict
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.seed import choose_device

EVAL_SEED_OFFSET = 10_000
"""Evaluation copies are seeded from seed + this, far from the training copies' seeds."""
MAX_EVAL_STEPS = 20_000
"""Safety cap on an evaluation's length (an episode still running counts its return so far)."""


def make_env(cfg: PPOConfig, num_envs: int, render: bool = False) -> VecEnv:
    """The config's environment with `num_envs` copies."""
    return make_vec_env(
        cfg.env, num_envs, cfg.distribution_mode, cfg.num_levels, cfg.start_level, render
    )


def build_agent(cfg: PPOConfig, env: VecEnv) -> ActorCritic:
    """The actor-critic the config describes, shaped for the env."""
    image = len(env.obs_shape) == 3
    if (cfg.network == "impala") != image:
        fix = "network=impala" if image else "network=mlp"
        raise DlcError(
            f"network={cfg.network} does not fit {cfg.env}'s observations of shape "
            f"{env.obs_shape}: use --set {fix}"
        )
    return ActorCritic(
        env.obs_shape,
        env.action,
        cfg.network,
        cfg.hidden,
        cfg.shared_trunk,
        cfg.impala_channels,
        cfg.downsample,
    )


def play(
    env: VecEnv, act: Callable[[np.ndarray], np.ndarray], seed: int
) -> tuple[list[float], list[int]]:
    """One episode per copy of `env` with the policy `act`; (returns, lengths) in copy order."""
    obs, _ = env.reset(seed=seed)
    n = env.num_envs
    returns, lengths = np.zeros(n), np.zeros(n, np.int64)
    running = np.ones(n, bool)
    for _ in range(MAX_EVAL_STEPS):
        obs, rewards, terminated, truncated, _ = env.step(act(obs))
        returns += np.where(running, rewards, 0.0)
        lengths += running
        running &= ~(terminated | truncated)
        if not running.any():
            break
    return returns.tolist(), lengths.tolist()


def policy_fn(
    agent: ActorCritic, deterministic: bool, seed: int, device: torch.device
) -> Callable[[np.ndarray], np.ndarray]:
    """obs -> actions with the agent; sampling draws from a stream seeded by `seed`."""
    generator = torch.Generator(device=device).manual_seed(seed)

    @torch.no_grad()
    def act(obs: np.ndarray) -> np.ndarray:
        obs_t = torch.as_tensor(obs, device=device)
        action = agent.get_action_and_value(obs_t, None, generator, deterministic)[0]
        return action.cpu().numpy()

    return act


def evaluate_policy(
    agent: ActorCritic, cfg: PPOConfig, device: torch.device
) -> tuple[list[float], list[int]]:
    """cfg.eval_episodes episodes of the agent on the evaluation seeds: (returns, lengths)."""
    env = make_env(cfg, cfg.eval_episodes)
    seed = cfg.seed + EVAL_SEED_OFFSET
    try:
        return play(env, policy_fn(agent, cfg.eval_deterministic, seed, device), seed)
    finally:
        env.close()


def random_returns(cfg: PPOConfig, episodes: int, seed: int) -> list[float]:
    """Returns of a uniformly random policy: the baseline a learning agent must beat."""
    env = make_env(cfg, episodes)
    rng = np.random.default_rng(seed)
    spec = env.action

    def act(obs: np.ndarray) -> np.ndarray:
        if spec.discrete:
            return rng.integers(spec.n, size=len(obs))
        return rng.uniform(spec.low, spec.high, size=(len(obs), spec.n)).astype(np.float32)

    try:
        return play(env, act, seed)[0]
    finally:
        env.close()


def record_gif(
    agent: ActorCritic,
    cfg: PPOConfig,
    path: Path,
    device: torch.device,
    max_frames: int = 250,
) -> Path | None:
    """Play cfg.gif_episodes episodes in one copy and save every few frames as a GIF.

    Returns the path, or None where the environment cannot draw itself (the probes).
    """
    from PIL import Image

    env = make_env(cfg, 1, render=True)
    seed = cfg.seed + EVAL_SEED_OFFSET
    act = policy_fn(agent, cfg.eval_deterministic, seed, device)
    try:
        obs, _ = env.reset(seed=seed)
        first = env.render()
        if first is None:
            return None
        # Gymnasium's 600x400 CartPole frames at every 4th step keep the GIF small and real-time
        skip, shrink = (2, 1) if first.shape[0] <= 256 else (4, 2)
        frames, episodes, t = [first[::shrink, ::shrink]], 0, 0
        while episodes < cfg.gif_episodes and len(frames) < max_frames and t < MAX_EVAL_STEPS:
            obs, _, terminated, truncated, _ = env.step(act(obs))
            episodes += int(terminated[0] or truncated[0])
            t += 1
            if t % skip == 0:
                frame = env.render()
                assert frame is not None
                frames.append(frame[::shrink, ::shrink])
    finally:
        env.close()
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames]
    with runs.atomic_open(path, "wb") as f:
        images[0].save(
            f, format="GIF", save_all=True, append_images=images[1:], duration=20 * skip, loop=0
        )
    return path


def load_agent(cfg: PPOConfig, seed_dir: Path, device: torch.device) -> ActorCritic:
    """The trained agent of one seed folder (agent.pt, else its latest checkpoint)."""
    path = seed_dir / "agent.pt"
    if not path.exists():
        path = runs.latest_checkpoint(seed_dir) or path
    if not path.exists():
        raise DlcError(f"{seed_dir} has no agent.pt or checkpoint to evaluate")
    env = make_env(cfg, 1)
    agent = build_agent(cfg, env).to(device)
    env.close()
    agent.load_state_dict(runs.load_checkpoint(path)["model"])
    return agent.eval()


def evaluate_run(run_dir: Path) -> dict[str, Any]:
    """`dlc eval RUN_DIR`: evaluate every seed's agent again on the evaluation seeds.

    Deterministic: the same run folder always gives the same figures, and they match the
    run's final evaluation.
    """
    data = runs.read_config(run_dir)
    base = from_dict(PPOConfig, data)
    seed_dirs = sorted(run_dir.glob("seed_*"), key=lambda p: int(p.name.split("_")[1]))
    if not seed_dirs:
        raise DlcError(f"{run_dir} holds no seed_* folder: is it a ppo run?")
    device = choose_device(base.device)
    out: dict[str, Any] = {}
    for seed_dir in seed_dirs:
        cfg = from_dict(PPOConfig, {**data, "seed": int(seed_dir.name.split("_")[1])})
        returns, lengths = evaluate_policy(load_agent(cfg, seed_dir, device), cfg, device)
        out[seed_dir.name] = (
            f"mean return {np.mean(returns):.2f} ± {np.std(returns):.2f} over {len(returns)} "
            f"episodes (mean length {np.mean(lengths):.0f})"
        )
    return out
