"""Chapter 7's experiment `dlc run rlhf`: samples, labels, reward models, PPO, judges.

Each stage leaves its result in the run folder (labels.sqlite, reward_model.json with
reward_model.pt or reward_head.pt,
comparison_rm.pt/.json, constants.json, checkpoints/, milestones/), and a resumed run skips
the stages already done (`stages.py`), so `dlc run rlhf --resume DIR` picks up inside PPO,
at the iteration it stopped, drawing the same samples an uninterrupted run would have.
The settings are in `config.py`; the success criteria, figures and tables in `report.py`.
"""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlcurriculum.ch01_transformers.shakespeare import (
    load_shakespeare_model,
    save_shakespeare_model,
)
from dlcurriculum.ch07_alignment import report, stages
from dlcurriculum.ch07_alignment.config import PRESETS, RLHFConfig
from dlcurriculum.ch07_alignment.impl import load_impl
from dlcurriculum.ch07_alignment.reward_stage import heldout_split, stage_reward_model
from dlcurriculum.ch07_alignment.rlhf import Milestone, PPOSettings, PPOState, train_ppo
from dlcurriculum.ch07_alignment.samples import corpus_prompts, start_id
from dlcurriculum.ch07_alignment.tasks import (
    HappySad,
    RewardConstants,
    Task,
    comparison_reward,
    happy_sad_reward,
    measure_constants,
    prompt_rows,
    sample_completions,
    unconditional_task,
)
from dlcurriculum.core import runs
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything
from dlcurriculum.core.training import Stateful, TrainingSession
from dlcurriculum.data import load_shakespeare


def _policy_path(cfg: RLHFConfig) -> Path:
    if not cfg.policy_run:
        raise DlcError(
            "rlhf starts from a chapter-1 Shakespeare model: train one with "
            "`dlc run shakespeare --preset quick`, then pass its run folder with "
            "--set policy_run=runs/shakespeare/<timestamp>"
        )
    return Path(cfg.policy_run).expanduser()


def _tasks(
    cfg: RLHFConfig, tokenizer: Any, first: int, happy_sad: HappySad, bt: Any
) -> tuple[Task, Task]:
    """(what PPO trains on, what the judges rate at each milestone).

    Prompted runs continue corpus prompts against the comparison reward model, and are
    judged on continuations of other prompts than those PPO trained on.
    """
    if not cfg.prompted:
        task = unconditional_task(first, happy_sad_reward(happy_sad, cfg.negative))
        return task, task
    text = load_shakespeare()
    train = corpus_prompts(text, cfg.ppo_prompts, cfg.prompt_pieces, cfg.seed + 5)
    held = corpus_prompts(text, cfg.eval_samples, cfg.prompt_pieces, cfg.seed + 6)
    rows = prompt_rows(tokenizer, first, train + held)  # one prompt length for both
    reward = comparison_reward(bt, rows.shape[1], cfg.negative)
    return Task(rows[: len(train)], reward), Task(rows[len(train) :], reward)


def run(cfg: RLHFConfig, run_dir: Path) -> Result:
    """Samples -> labels -> reward model -> reward constants -> PPO to max_kl -> judge."""
    checkpoint = _policy_path(cfg)
    stages.check_judge(cfg)
    watch = runs.Stopwatch()  # the stages before PPO count towards the run's wall time
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ex = load_impl(cfg.impl)
    # fused attention kernels: this chapter's exercises sit outside the model
    policy, tokenizer = load_shakespeare_model(checkpoint, device=device, fast_path=True)
    ref, _ = load_shakespeare_model(checkpoint, device=device, fast_path=True)
    for p in ref.parameters():
        p.requires_grad_(False)
    first = start_id(tokenizer, cfg.start_text)
    pairs = stages.stage_labels(cfg, run_dir, policy, tokenizer, checkpoint)
    happy_sad = stage_reward_model(cfg, run_dir, policy, tokenizer, pairs, ex)
    bt = stages.stage_comparisons(cfg, run_dir, policy, tokenizer, happy_sad)
    task, eval_task = _tasks(cfg, tokenizer, first, happy_sad, bt)

    const_path = run_dir / "constants.json"
    if const_path.exists():
        constants = RewardConstants(**json.loads(const_path.read_text()))
    else:
        g = torch.Generator(device=device).manual_seed(cfg.seed + 1)
        constants = measure_constants(ref, tokenizer, task, cfg.n_calibration, cfg.sample_tokens, g)
        runs.write_json(const_path, asdict(constants))

    settings = PPOSettings(
        cfg.batch_size,
        cfg.sample_tokens,
        cfg.update_epochs,
        cfg.num_minibatches,
        cfg.learning_rate,
        cfg.clip_coef,
        1.0,
        cfg.max_kl,
        cfg.max_iterations,
    )
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate)
    eval_gen_seed = cfg.seed + 3

    def eval_texts(model: nn.Module) -> list[str]:
        g = torch.Generator(device=device).manual_seed(eval_gen_seed)
        tokens = sample_completions(
            model, tokenizer, eval_task, cfg.eval_samples, cfg.sample_tokens, g
        )
        return [tokenizer.decode(r.tolist()) for r in tokens[:, eval_task.prompt_len :].cpu()]

    stateful: dict[str, Stateful] = {"policy": policy, "optimizer": opt}
    fresh = PPOState(elapsed=watch.elapsed)  # a resumed run's state comes from its checkpoint
    with TrainingSession(run_dir, fresh, cfg.max_iterations, "PPO", stateful) as session:
        milestones = session.state.milestones
        if not milestones:
            milestones.append(Milestone(target=0.0, kl=0.0, iteration=0, texts=eval_texts(ref)))

        def on_iteration(it: int, kl: float) -> None:
            reached = {m["target"] for m in milestones}
            for target in cfg.kl_milestones:
                if kl >= target and target not in reached:
                    save_shakespeare_model(
                        run_dir / "milestones" / f"kl_{target:g}.pt", policy, tokenizer
                    )
                    milestones.append(
                        Milestone(target=target, kl=kl, iteration=it, texts=eval_texts(policy))
                    )

        out = train_ppo(
            policy,
            ref,
            task,
            tokenizer,
            settings,
            constants,
            session,
            opt,
            cfg.seed + 2,
            on_iteration,
            ex,
        )
    runs.write_json(run_dir / "milestones.json", milestones)
    heldout = heldout_split(cfg, pairs, torch.Generator().manual_seed(cfg.seed))[0]
    lm_judge = stages.lm_judge_rates(cfg, device, milestones, heldout)
    summary = stages.summarize(cfg, run_dir, happy_sad, milestones, out, lm_judge)
    summary["wall_time_s"] = session.clock.elapsed  # after every judge has run
    return finish(run_dir, summary)


RLHF = ExperimentSpec(
    name="rlhf",
    title="Chapter 7: RLHF of the Shakespeare model",
    presets=PRESETS["rlhf"],
    run=run,
    criteria=report.RLHF_CRITERIA,
    figures=report.draw,
    sections=report.sections,
    next_steps=(
        "Read the samples per KL milestone from the top: where do they stop reading as "
        "Shakespeare and start reading as strings of happy words? That is where the reward "
        "model is being over-optimised. Rate the original against a checkpoint blind with "
        "`dlc label rate`, label samples yourself with `dlc label serve` and rerun with "
        "`--set labels=PATH`, and try `--set negative=true`."
    ),
)
