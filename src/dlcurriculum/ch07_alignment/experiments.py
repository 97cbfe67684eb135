"""Chapter 7's experiment `dlc run rlhf`: samples, labels, reward models, PPO, judges.

Each stage leaves its result in the run folder (labels.sqlite, reward_model.pt/.json,
comparison_rm.pt/.json, constants.json, checkpoints/, milestones/), and a resumed run skips
the stages already done (`stages.py`), so `dlc run rlhf --resume DIR` picks up inside PPO,
at the iteration it stopped, drawing the same samples an uninterrupted run would have.
The summary and the success criteria are in `results.py`, the figures in `figures.py`.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch01_transformers.shakespeare import (
    load_shakespeare_model,
    save_shakespeare_model,
)
from dlcurriculum.ch07_alignment import figures, results, stages
from dlcurriculum.ch07_alignment.rlhf import (
    PPOSettings,
    RewardConstants,
    measure_constants,
    sample_completions,
    train_ppo,
)
from dlcurriculum.ch07_alignment.samples import (
    start_id,
)
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig, check, require
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything

SLUG = "ch07_alignment"


@dataclass(frozen=True)
class RLHFConfig(RunConfig):
    """RLHF of the chapter-1 Shakespeare model towards positive (or negative) sentiment."""

    policy_run: str = ""
    """Chapter-1 run folder (or model.pt) to start from; make one with
    `dlc run shakespeare --preset quick`."""
    labels: str = ""
    """A label database filled by `dlc label serve` to use instead of synthetic labels."""
    labeler: str = ""
    """Use only this labeler's labels from `labels` ('' = everyone's)."""
    n_label_samples: int = 20000
    """Unconditional samples drawn and labeled synthetically (ignored with `labels`)."""
    sample_tokens: int = 24
    """Pieces per sample and per PPO completion."""
    start_text: str = ".\n"
    """The piece every sample starts from."""
    neutral_threshold: float = 0.3
    """VADER compound scores within +-this are labeled neutral."""
    heldout_fraction: float = 0.2
    """Share of the labeled samples held out to test the reward model."""
    rm_epochs: int = 3
    """Passes over the labeled samples."""
    rm_batch_size: int = 32
    """Samples per reward-model step."""
    rm_lr: float = 5e-4
    """Reward-model learning rate (AdamW)."""
    min_rm_accuracy: float = 0.8
    """Held-out accuracy (non-neutral labels) the reward model must reach."""
    n_comparison_prompts: int = 12000
    """Corpus prompts continued twice each for the comparison reward model (0 = skip it)."""
    prompt_pieces: int = 8
    """Pieces cut from the start of a corpus line to make a prompt."""
    comparison_margin: float = 0.1
    """Pairs whose continuations' VADER compound scores differ by less than this are ties."""
    bt_epochs: int = 2
    """Passes over the comparison pairs."""
    bt_lr: float = 1e-3
    """Comparison reward-model learning rate (AdamW)."""
    min_bt_accuracy: float = 0.7
    """Held-out pair accuracy the comparison reward model must reach."""
    n_calibration: int = 2000
    """Completions of the original policy the reward constants are measured on."""
    batch_size: int = 512
    """Completions per PPO iteration."""
    update_epochs: int = 4
    """Passes over each iteration's batch."""
    num_minibatches: int = 8
    """Minibatches per pass."""
    learning_rate: float = 1e-5
    """Policy learning rate (Adam)."""
    clip_coef: float = 0.2
    """PPO ratio clip epsilon."""
    max_kl: float = 10.0
    """Stop when the mean per-completion KL from the original model reaches this (nats)."""
    max_kl_overshoot: float = 1.5
    """The KL at the stop may exceed max_kl by this factor: the KL is measured before each
    update and PPO stops at the first one at or past max_kl, one iteration's step beyond it."""
    min_reward_gain: float = 0.2
    """Nats the mean reward must rise from the first to the last PPO iterations (a fifth of
    the reward's spread over completions, about 0.9 nats; noise on a 3-iteration mean of 1024
    completions each is about 0.02)."""
    min_clipfrac: float = 0.01
    """Lower end of the healthy clip-fraction band (below it the policy barely moves)."""
    max_clipfrac: float = 0.2
    """Upper end of the healthy clip-fraction band (above it the steps are too big)."""
    min_clip_in_band: float = 0.5
    """Share of PPO updates whose clip fraction must lie in the healthy band."""
    min_sqrt_kl_r2: float = 0.9
    """R^2 the line fit of sqrt(KL) against iteration must reach ("roughly linear")."""
    max_iterations: int = 40
    """Stop after this many PPO iterations even if the KL is smaller."""
    kl_milestones: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0)
    """KLs (nats) at which the policy is saved and sampled."""
    eval_samples: int = 200
    """Samples per milestone that the judge rates."""
    shown_samples: int = 6
    """Samples per milestone printed in the report."""
    judge_lm: str = "smollm2"
    """Chat LM of the second judge: "smollm2" (offline), a hub id, "" (none) or "tiny" (a
    random tiny model, for tests)."""
    judge_lm_samples: int = 100
    """Samples per milestone the LM judge rates (the first of eval_samples)."""
    judge_lm_agreement: int = 200
    """Held-out labeled samples on which the LM judge's agreement with the labels is measured."""
    negative: bool = False
    """Train towards negative sentiment (the one-flag comparison)."""
    time_budget_s: float = 0.0
    """Wall time the run should finish within (0 = none: the time criterion is N/A)."""

    def __post_init__(self) -> None:
        check(self, "sample_tokens", "rm_epochs", "rm_batch_size", "prompt_pieces", ge=1)
        check(self, "bt_epochs", "batch_size", "update_epochs", "num_minibatches", ge=1)
        check(self, "max_iterations", "eval_samples", "judge_lm_samples", ge=1)
        check(self, "judge_lm_agreement", ge=1)
        check(self, "n_label_samples", "n_calibration", ge=2)  # a split / a std needs two
        check(self, "n_comparison_prompts", "shown_samples", ge=0)  # 0 = skip / show none
        check(self, "rm_lr", "bt_lr", "learning_rate", "clip_coef", "max_kl", "kl_milestones", gt=0)
        check(self, "heldout_fraction", gt=0, lt=1)
        check(self, "neutral_threshold", ge=0, lt=1)  # VADER's compound score is in [-1, 1]
        check(self, "comparison_margin", ge=0, lt=2)  # ... so two differ by less than 2
        check(self, "min_rm_accuracy", "min_bt_accuracy", "min_clip_in_band", ge=0, le=1)
        check(self, "min_clipfrac", "min_sqrt_kl_r2", ge=0, le=1)
        check(self, "max_clipfrac", gt=0, le=1)
        check(self, "max_kl_overshoot", ge=1)  # a factor on max_kl
        check(self, "min_reward_gain", "time_budget_s", ge=0)
        n_heldout = max(1, round(self.heldout_fraction * self.n_label_samples))
        require(
            bool(self.labels) or n_heldout < self.n_label_samples,
            f"heldout_fraction ({self.heldout_fraction}) of n_label_samples "
            f"({self.n_label_samples}) leaves no sample to train the reward model on: lower "
            "heldout_fraction or raise n_label_samples",
        )
        require(
            self.batch_size % self.num_minibatches == 0,
            f"batch_size ({self.batch_size}) must be a multiple of num_minibatches "
            f"({self.num_minibatches})",
        )
        require(
            self.min_clipfrac < self.max_clipfrac,
            f"min_clipfrac ({self.min_clipfrac}) must be below max_clipfrac "
            f"({self.max_clipfrac}): they bound the healthy band",
        )
        require(
            list(self.kl_milestones) == sorted(self.kl_milestones),
            f"kl_milestones must rise, got {self.kl_milestones}",
        )
        require(
            self.judge_lm_samples <= self.eval_samples,
            f"judge_lm_samples ({self.judge_lm_samples}) must be at most eval_samples "
            f"({self.eval_samples}): the LM judge rates the first of them",
        )

    @property
    def target(self) -> str:
        """The sentiment PPO pushes towards."""
        return "negative" if self.negative else "positive"


PRESETS = {
    "smoke": RLHFConfig(
        n_label_samples=160,
        sample_tokens=12,
        rm_epochs=2,
        rm_lr=1e-3,
        n_calibration=64,
        batch_size=32,
        num_minibatches=2,
        learning_rate=3e-4,
        max_kl=2.0,
        max_iterations=6,
        kl_milestones=(0.5, 1.0, 2.0),
        eval_samples=16,
        shown_samples=2,
        n_comparison_prompts=48,
        judge_lm="tiny",
        judge_lm_samples=8,
        judge_lm_agreement=24,
        bt_epochs=1,
        time_budget_s=120.0,
    ),
    # 16 minibatches of 64 per iteration: with 8 the policy moved so little per iteration
    # that the median clip fraction sat at 0.8%, below the healthy 1-20% band
    "quick": RLHFConfig(time_budget_s=1800.0, batch_size=1024, num_minibatches=16),
    # no time_budget_s: the full preset's time depends on the hardware (a GPU helps) and
    # has not been measured, so its time criterion is N/A rather than a guessed bar
    "full": RLHFConfig(
        n_label_samples=50000,
        rm_epochs=4,
        n_calibration=5000,
        batch_size=1024,
        num_minibatches=8,
        max_iterations=300,
        eval_samples=500,
    ),
}


def _policy_path(cfg: RLHFConfig) -> Path:
    if not cfg.policy_run:
        raise DlcError(
            "rlhf starts from a chapter-1 Shakespeare model: train one with "
            "`dlc run shakespeare --preset quick`, then pass its run folder with "
            "--set policy_run=runs/shakespeare/<timestamp>"
        )
    return Path(cfg.policy_run).expanduser()


def run(cfg: RLHFConfig, run_dir: Path) -> Result:
    """Samples -> labels -> reward model -> reward constants -> PPO to max_kl -> judge."""
    checkpoint = _policy_path(cfg)
    stages.check_judge(cfg)
    ckpt = runs.latest_checkpoint(run_dir)
    saved = runs.load_checkpoint(ckpt) if ckpt is not None else None
    watch = runs.Stopwatch(saved["state"]["elapsed"] if saved else 0.0)
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ex = resolve(SLUG, cfg.impl)
    # fused attention kernels: this chapter's exercises sit outside the model
    policy, tokenizer = load_shakespeare_model(checkpoint, device=device, fast_path=True)
    ref, _ = load_shakespeare_model(checkpoint, device=device, fast_path=True)
    for p in ref.parameters():
        p.requires_grad_(False)
    first = start_id(tokenizer, cfg.start_text)
    pairs = stages.stage_labels(cfg, run_dir, policy, tokenizer, checkpoint)
    rm, ids = stages.stage_reward_model(cfg, run_dir, policy, tokenizer, pairs, ex)
    for p in rm.parameters():
        p.requires_grad_(False)
    stages.stage_comparisons(cfg, run_dir, policy, tokenizer, rm, ids)

    const_path = run_dir / "constants.json"
    if const_path.exists():
        constants = RewardConstants(**json.loads(const_path.read_text()))
    else:
        g = torch.Generator(device=device).manual_seed(cfg.seed + 1)
        constants = measure_constants(
            ref, rm, ids, tokenizer, first, cfg.n_calibration, cfg.sample_tokens, cfg.negative, g
        )
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
        cfg.negative,
    )
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate)
    state: dict[str, Any] = {"iteration": 0, "elapsed": 0.0, "milestones": []}
    if saved is not None:
        policy.load_state_dict(saved["policy"])
        opt.load_state_dict(saved["optimizer"])
        state = saved["state"]
    milestones: list[dict[str, Any]] = state["milestones"]
    eval_gen_seed = cfg.seed + 3

    def eval_texts(model: Any) -> list[str]:
        g = torch.Generator(device=device).manual_seed(eval_gen_seed)
        tokens = sample_completions(model, tokenizer, first, cfg.eval_samples, cfg.sample_tokens, g)
        return [tokenizer.decode(r.tolist()) for r in tokens[:, 1:].cpu()]

    if not milestones:
        milestones.append({"target": 0.0, "kl": 0.0, "iteration": 0, "texts": eval_texts(ref)})

    def on_iteration(it: int, kl: float) -> None:
        reached = {m["target"] for m in milestones}
        for target in cfg.kl_milestones:
            if kl >= target and target not in reached:
                save_shakespeare_model(
                    run_dir / "milestones" / f"kl_{target:g}.pt", policy, tokenizer
                )
                milestones.append(
                    {"target": target, "kl": kl, "iteration": it, "texts": eval_texts(policy)}
                )
        runs.save_checkpoint(
            run_dir,
            it,
            {
                "policy": policy.state_dict(),
                "optimizer": opt.state_dict(),
                "state": {"iteration": it, "elapsed": watch.elapsed, "milestones": milestones},
            },
        )

    with runs.MetricLogger(
        run_dir, resume_step=state["iteration"] - 1 if saved else None
    ) as logger:
        out = train_ppo(
            policy,
            ref,
            rm,
            ids,
            tokenizer,
            first,
            settings,
            constants,
            logger,
            cfg.seed + 2,
            on_iteration,
            ex,
            state["iteration"],
            opt,
        )
    runs.write_json(run_dir / "milestones.json", milestones)
    heldout = stages.heldout_split(cfg, pairs, torch.Generator().manual_seed(cfg.seed))[0]
    lm_judge = stages.lm_judge_rates(cfg, device, milestones, heldout)
    summary = results.summarize(cfg, run_dir, rm, ids, tokenizer, first, milestones, out, lm_judge)
    summary["wall_time_s"] = watch.elapsed  # after every judge has run
    return finish(run_dir, summary)


RLHF = ExperimentSpec(
    name="rlhf",
    title="Chapter 7: RLHF of the Shakespeare model",
    presets=PRESETS,
    run=run,
    criteria=results.CRITERIA,
    figures=figures.draw,
    sections=figures.sections,
    next_steps=(
        "Read the samples per KL milestone from the top: where do they stop reading as "
        "Shakespeare and start reading as strings of happy words? That is where the reward "
        "model is being over-optimised. Rate the original against a checkpoint blind with "
        "`dlc label rate`, label samples yourself with `dlc label serve` and rerun with "
        "`--set labels=PATH`, and try `--set negative=true`."
    ),
)
