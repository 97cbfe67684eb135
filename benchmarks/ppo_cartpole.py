"""Seconds and environment steps to solve CartPole-v1: our PPO vs Stable-Baselines3's PPO.

Both use rl-zoo's tuned CartPole-v1 hyperparameters (8 envs x 32 steps, one minibatch of
256, 20 epochs, gamma 0.98, GAE lambda 0.8, no entropy bonus, learning rate 1e-3 and clip
range 0.2 both decayed linearly, value weight 0.5 on SB3's MSE = 1.0 on our half-MSE,
gradient clip 0.5, Adam eps 1e-5, 64-64 tanh actor and critic), run in this one process on
one thread, for the same number of environment steps, with the same seeds. Both are
evaluated the same way every `--eval-every` steps: 10 greedy episodes on the same fixed
evaluation seeds, clock paused. "Solved" is the first evaluation with mean return >= 475.
SB3 steps Gymnasium's CartPole copies one by one (its DummyVecEnv); ours steps them at once
with a numpy CartPole whose trajectories equal Gymnasium's exactly (as chapter 6's tests check).
The seeds are run one after the other, the two implementations in alternating order.

The aim (issue 25): our median seconds to 475 over the seeds is at most half of SB3's. A
seed that never reaches 475 counts as infinitely slow in that median.

    python benchmarks/ppo_cartpole.py [--seeds 10] [--total-timesteps 100000] [--threads 1]

Needs the `rl` extra and stable-baselines3. Never part of CI.
"""

import argparse
import dataclasses
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlcurriculum.ch06_reinforcement_learning.config import PRESETS, PPOConfig
from dlcurriculum.ch06_reinforcement_learning.evaluation import EVAL_SEED_OFFSET, make_env, play
from dlcurriculum.ch06_reinforcement_learning.ppo import train

TARGET = 475.0


def evaluate(act: Any, cfg: PPOConfig) -> float:
    """Mean return of cfg.eval_episodes greedy episodes on the fixed evaluation seeds."""
    env = make_env(cfg, cfg.eval_episodes)
    seed = cfg.seed + EVAL_SEED_OFFSET
    return float(np.mean(play(env, act, seed)[0]))


def ours(cfg: PPOConfig) -> dict[str, Any]:
    """Our PPO: it evaluates itself with the same protocol and excludes that time."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = train(cfg, Path(tmp))
        wall = time.perf_counter() - start
    return {
        "steps": out["steps_to_target"],
        "seconds": out["time_to_target_s"],
        "total_s": out["train_time_s"],
        "wall_s": wall,
        "final": out["final_eval_return"],
    }


def sb3(cfg: PPOConfig) -> dict[str, Any]:
    """SB3's PPO with rl-zoo's settings; a callback evaluates it with the clock paused."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class Evaluate(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.paused, self.result = 0.0, {"steps": None, "seconds": None}
            self.start = time.perf_counter()

        def _on_step(self) -> bool:
            step = self.num_timesteps
            if step // cfg.eval_every == (step - cfg.num_envs) // cfg.eval_every:
                return True
            t0 = time.perf_counter()

            def act(obs: np.ndarray) -> np.ndarray:
                return self.model.predict(obs, deterministic=True)[0]

            mean = evaluate(act, cfg)
            self.paused += time.perf_counter() - t0
            if mean >= TARGET and self.result["steps"] is None:
                elapsed = time.perf_counter() - self.start - self.paused
                self.result = {"steps": step, "seconds": elapsed}
            return True

    def linear(start: float) -> Any:
        return lambda progress_remaining: progress_remaining * start

    start = time.perf_counter()
    env = make_vec_env("CartPole-v1", n_envs=cfg.num_envs, seed=cfg.seed)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=cfg.num_steps,
        batch_size=cfg.minibatch_size,
        n_epochs=cfg.update_epochs,
        gamma=cfg.gamma,
        gae_lambda=cfg.gae_lambda,
        ent_coef=cfg.ent_coef,
        learning_rate=linear(cfg.learning_rate),
        clip_range=linear(cfg.clip_coef),
        seed=cfg.seed,
        device="cpu",
    )
    callback = Evaluate()
    model.learn(total_timesteps=cfg.total_timesteps, callback=callback)
    wall = time.perf_counter() - start
    act = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
    return {
        **callback.result,
        "total_s": wall - callback.paused,
        "wall_s": wall,
        "final": evaluate(act, cfg),
    }


def _fmt(x: float | None, spec: str) -> str:
    return "never" if x is None else format(x, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--total-timesteps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=5_120)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = dataclasses.replace(
        PRESETS["ppo-cartpole"]["quick"],
        num_seeds=1,
        min_seeds_solved=1,
        total_timesteps=args.total_timesteps,
        eval_every=args.eval_every,
        gif_episodes=0,
        num_threads=args.threads,
    )
    rows: list[tuple[int, dict, dict]] = []
    print(f"{'seed':>4} | {'impl':<4} | {'steps to 475':>12} | {'s to 475':>8} | "
          f"{'train s':>7} | {'final':>6}")  # fmt: skip
    for seed in range(args.seeds):
        cfg = dataclasses.replace(base, seed=seed)
        # alternate the order so that changes in machine load fall on both alike
        if seed % 2 == 0:
            mine = ours(cfg)
            theirs = sb3(cfg)
        else:
            theirs = sb3(cfg)
            mine = ours(cfg)
        rows.append((seed, mine, theirs))
        for name, r in (("ours", mine), ("sb3", theirs)):
            print(
                f"{seed:>4} | {name:<4} | {_fmt(r['steps'], ',d'):>12} | "
                f"{_fmt(r['seconds'], '.1f'):>8} | {r['total_s']:>7.1f} | {r['final']:>6.1f}"
            )
    solved = [(o, s) for _, o, s in rows if o["seconds"] is not None and s["seconds"] is not None]
    if solved:
        step_ratio = statistics.median(s["steps"] / o["steps"] for o, s in solved)
        print(
            f"median over {len(solved)} seeds solved by both: SB3 needs {step_ratio:.2f}x our "
            f"environment steps to reach {TARGET:.0f}"
        )
    total_ratio = statistics.median(s["total_s"] / o["total_s"] for _, o, s in rows)
    print(
        f"median SB3 / ours training time for all {args.total_timesteps:,} steps: "
        f"{total_ratio:.1f}x"
    )
    medians = {}
    for name, results in (("ours", [o for _, o, _ in rows]), ("sb3", [s for _, _, s in rows])):
        times = [math.inf if r["seconds"] is None else r["seconds"] for r in results]
        medians[name] = statistics.median(times)
        print(
            f"{name:<4} median seconds to {TARGET:.0f} over {len(times)} seeds: "
            f"{medians[name]:.2f} ({times.count(math.inf)} never reached it: infinite)"
        )
    ratio = medians["ours"] / medians["sb3"]
    verdict = "meets" if ratio <= 0.5 else "misses"
    print(f"ours / sb3 median seconds to {TARGET:.0f}: {ratio:.2f} ({verdict} the aim: <= 0.5)")


if __name__ == "__main__":
    main()
