"""Chapter 6's experiments: `dlc run ppo-cartpole` and `dlc run ppo-procgen`.

A run trains `num_seeds` seeds one after the other, each in its own folder
`seed_<n>/` (metrics.jsonl, TensorBoard events, checkpoints/, agent.pt, eval.gif), and
writes one row per finished seed in the run's own metrics.jsonl, so an interrupted run
resumes inside the seed it was training and skips the seeds already done.
"""

import dataclasses
import json
import statistics
from pathlib import Path
from typing import Any

from dlcurriculum.ch06_reinforcement_learning.config import PRESETS, PPOConfig
from dlcurriculum.ch06_reinforcement_learning.evaluation import evaluate_run, random_returns
from dlcurriculum.ch06_reinforcement_learning.ppo import train
from dlcurriculum.ch06_reinforcement_learning.report import (
    NEXT_STEPS,
    PPO_CARTPOLE_CRITERIA,
    PPO_PROCGEN_CRITERIA,
    in_time,
    ppo_figures,
    ppo_sections,
)
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.seed import choose_device

# rl-zoo's tuned CartPole-v1 settings (the ones SB3 is benchmarked with), in our names


def run_ppo(cfg: PPOConfig, run_dir: Path) -> Result:
    """Train every seed (resuming an interrupted one), then summarise them."""
    clock = runs.Stopwatch()
    choose_device(cfg.device)  # fail early on a bad --device
    # measured in the same run, on the same level distribution, as the baseline to beat
    baseline = (
        random_returns(cfg, cfg.random_episodes, cfg.seed + 20_000) if cfg.random_episodes else []
    )
    done = runs.read_metrics(run_dir)
    seeds = [cfg.seed + i for i in range(cfg.num_seeds)]
    with (
        runs.MetricLogger(run_dir, resume_step=len(done) - 1 if done else None) as logger,
        runs.progress(len(seeds), "seeds", initial=len(done)) as bar,
    ):
        for i, seed in enumerate(seeds[len(done) :], start=len(done)):
            seed_cfg = dataclasses.replace(cfg, seed=seed, gif_episodes=cfg.gif_episodes * (i == 0))
            seed_dir = run_dir / f"seed_{seed}"
            seed_dir.mkdir(exist_ok=True)
            out = train(seed_cfg, seed_dir, desc=f"[{i + 1}/{len(seeds)}] {cfg.env} seed {seed}")
            runs.write_json(seed_dir / "summary.json", out)
            logged = ("final_eval_return", "best_eval_return", "steps_to_target")
            logger.log(i, seed=seed, **{f"charts/{k}": out[k] for k in logged})
            bar.update(1)
    per_seed = [json.loads((run_dir / f"seed_{s}" / "summary.json").read_text()) for s in seeds]
    summary: dict[str, Any] = {
        "env": cfg.env,
        "seeds": per_seed,
        "solved_seeds": sum(in_time(s, cfg.target_time_s) for s in per_seed),
        "mean_final_eval_return": statistics.fmean(s["final_eval_return"] for s in per_seed),
        "parameters": per_seed[0]["parameters"],
        "device": per_seed[0]["device"],
        "wall_time_s": clock.elapsed,
    }
    if baseline:
        summary |= {
            "random_return_mean": statistics.fmean(baseline),
            "random_return_std": statistics.pstdev(baseline),
            "random_episodes": len(baseline),
        }
    return finish(run_dir, summary, run_dir / f"seed_{seeds[0]}" / "agent.pt")


PPO_CARTPOLE = ExperimentSpec(
    name="ppo-cartpole",
    title="Chapter 6: PPO on CartPole-v1",
    presets=PRESETS["ppo-cartpole"],
    run=run_ppo,
    criteria=PPO_CARTPOLE_CRITERIA,
    figures=ppo_figures(target=True),
    sections=ppo_sections,
    next_steps=NEXT_STEPS,
    evaluate=evaluate_run,
)

PPO_PROCGEN = ExperimentSpec(
    name="ppo-procgen",
    title="Chapter 6: PPO on Procgen (easy mode)",
    presets=PRESETS["ppo-procgen"],
    run=run_ppo,
    criteria=PPO_PROCGEN_CRITERIA,
    figures=ppo_figures(target=False),
    sections=ppo_sections,
    next_steps=NEXT_STEPS,
    evaluate=evaluate_run,
)
