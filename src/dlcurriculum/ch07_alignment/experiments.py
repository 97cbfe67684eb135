"""Chapter 7's experiment `dlc run rlhf`: samples, labels, reward model, PPO, judge.

Each stage leaves its result in the run folder (labels.sqlite, reward_model.pt,
reward_model.json, constants.json, checkpoints/, milestones/), and a resumed run skips the
stages already done, so `dlc run rlhf --resume DIR` picks up inside PPO.
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
from dlcurriculum.ch07_alignment import figures
from dlcurriculum.ch07_alignment.judge import LexiconJudge
from dlcurriculum.ch07_alignment.labeler import VaderLabeler, label_synthetically, load_labels
from dlcurriculum.ch07_alignment.labels import LabelStore
from dlcurriculum.ch07_alignment.reward_model import (
    RMTrainSettings,
    accuracy,
    encode_texts,
    label_ids,
    predict_positive,
    reliability,
    reward_model_from,
    soft_targets,
    train_reward_model,
    warm_start_labels,
)
from dlcurriculum.ch07_alignment.rlhf import (
    PPOSettings,
    RewardConstants,
    measure_constants,
    sample_completions,
    train_ppo,
)
from dlcurriculum.ch07_alignment.samples import (
    SamplingSettings,
    sample_meta,
    start_id,
    unconditional_samples,
)
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import Criterion, RunRecord, Verdict
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
    max_iterations: int = 40
    """Stop after this many PPO iterations even if the KL is smaller."""
    kl_milestones: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0)
    """KLs (nats) at which the policy is saved and sampled."""
    eval_samples: int = 200
    """Samples per milestone that the judge rates."""
    shown_samples: int = 6
    """Samples per milestone printed in the report."""
    negative: bool = False
    """Train towards negative sentiment (the one-flag comparison)."""
    time_budget_s: float = 0.0
    """Wall time the run should finish within (0 = no limit)."""

    def __post_init__(self) -> None:
        assert 0 < self.heldout_fraction < 1, "heldout_fraction must be in (0, 1)"
        assert self.batch_size % self.num_minibatches == 0, (
            f"batch_size={self.batch_size} must divide into num_minibatches={self.num_minibatches}"
        )
        assert self.max_kl > 0 and self.max_iterations >= 1 and self.sample_tokens >= 1
        assert list(self.kl_milestones) == sorted(self.kl_milestones), "kl_milestones must rise"

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
        min_rm_accuracy=0.0,
        n_calibration=64,
        batch_size=32,
        num_minibatches=2,
        learning_rate=3e-4,
        max_kl=2.0,
        max_iterations=6,
        kl_milestones=(0.5, 1.0, 2.0),
        eval_samples=16,
        shown_samples=2,
        time_budget_s=120.0,
    ),
    # 16 minibatches of 64 per iteration: with 8 the policy moved so little per iteration
    # that the median clip fraction sat at 0.8%, below the healthy 1-20% band
    "quick": RLHFConfig(time_budget_s=1800.0, batch_size=1024, num_minibatches=16),
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


def _stage_labels(
    cfg: RLHFConfig, run_dir: Path, policy: Any, tokenizer: Any, checkpoint: Path
) -> list[tuple[str, str]]:
    """(text, label) pairs: a human-labeled database, or fresh samples labeled by VADER."""
    if cfg.labels:
        return load_labels(Path(cfg.labels).expanduser(), cfg.labeler or None)
    store = LabelStore(run_dir / "labels.sqlite")
    if not store.labeled():
        settings = SamplingSettings(cfg.sample_tokens, 1.0, cfg.start_text, cfg.seed)
        texts = unconditional_samples(policy, tokenizer, cfg.n_label_samples, settings)
        meta = sample_meta(policy, checkpoint, settings)
        store.add_samples(texts, "policy", meta)
        label_synthetically(store, store.samples("policy"), VaderLabeler(cfg.neutral_threshold))
    return [(s.text, lab) for s, lab in store.labeled()]


def _stage_reward_model(
    cfg: RLHFConfig,
    run_dir: Path,
    policy: Any,
    tokenizer: Any,
    pairs: list[tuple[str, str]],
    ex: Any,
) -> tuple[Any, tuple[int, int]]:
    """Train (or reload) the reward model; write its held-out accuracy and calibration."""
    path = run_dir / "reward_model.pt"
    if path.exists():
        rm, rm_tok = load_shakespeare_model(path, next(policy.parameters()).device, fast_path=True)
        return rm, label_ids(rm_tok)
    rm, rm_tok = reward_model_from(policy, tokenizer)
    ids = label_ids(rm_tok)
    g = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(pairs), generator=g).tolist()
    n_test = max(1, round(cfg.heldout_fraction * len(pairs)))
    test, train = [pairs[i] for i in order[:n_test]], [pairs[i] for i in order[n_test:]]
    first = start_id(tokenizer, cfg.start_text)
    n_ctx = rm.cfg.n_ctx
    tokens, last = encode_texts(tokenizer, [t for t, _ in train], first, n_ctx)
    warm_start_labels(rm, tokens[:256].to(rm.W_U.device), last[:256].to(rm.W_U.device), ids)
    settings = RMTrainSettings(cfg.rm_epochs, cfg.rm_batch_size, cfg.rm_lr)
    losses = train_reward_model(
        rm,
        tokens,
        last,
        soft_targets([lab for _, lab in train]),
        ids,
        settings,
        g,
        ex.reward_model_loss,
    )
    test_tokens, test_last = encode_texts(tokenizer, [t for t, _ in test], first, n_ctx)
    test_labels = [lab for _, lab in test]
    p = predict_positive(rm, test_tokens, test_last, ids)
    mean_p, frac, count, ece = reliability(p, test_labels)
    counts = {
        lab: sum(1 for _, x in pairs if x == lab) for lab in ("positive", "neutral", "negative")
    }
    runs.write_json(
        run_dir / "reward_model.json",
        {
            "accuracy": accuracy(p, test_labels),
            "ece": ece,
            "label_counts": counts,
            "n_train": len(train),
            "n_test": len(test),
            "n_test_non_neutral": sum(lab != "neutral" for lab in test_labels),
            "reliability": {"mean_p": mean_p, "frac_positive": frac, "count": count},
            "first_losses": losses[:5],
            "last_losses": losses[-5:],
            "labels_from": cfg.labels or "synthetic (VADER, a stand-in for human labels)",
        },
    )
    save_shakespeare_model(path, rm, rm_tok)
    return rm, ids


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
    pairs = _stage_labels(cfg, run_dir, policy, tokenizer, checkpoint)
    rm, ids = _stage_reward_model(cfg, run_dir, policy, tokenizer, pairs, ex)
    for p in rm.parameters():
        p.requires_grad_(False)

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
    generator = torch.Generator(device=device).manual_seed(cfg.seed + 2)
    state: dict[str, Any] = {"iteration": 0, "elapsed": 0.0, "milestones": []}
    if saved is not None:
        policy.load_state_dict(saved["policy"])
        opt.load_state_dict(saved["optimizer"])
        generator.set_state(saved["generator"])
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
                "generator": generator.get_state(),
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
            generator,
            on_iteration,
            ex,
            state["iteration"],
            opt,
        )
    runs.write_json(run_dir / "milestones.json", milestones)
    summary = _summarize(cfg, run_dir, rm, ids, tokenizer, first, milestones, out, watch.elapsed)
    return finish(run_dir, summary)


def _summarize(
    cfg: RLHFConfig,
    run_dir: Path,
    rm: Any,
    ids: tuple[int, int],
    tokenizer: Any,
    first: int,
    milestones: list[dict[str, Any]],
    out: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    """The figures the criteria read: RM accuracy, reward, clip fractions, sqrt(KL) fit, judge."""
    rm_info = json.loads((run_dir / "reward_model.json").read_text())
    rows = [r for r in runs.read_metrics(run_dir) if "policy/clipfrac" in r]
    judge, vader = LexiconJudge(), VaderLabeler(cfg.neutral_threshold)
    table = []
    for m in milestones:
        tokens, last = encode_texts(tokenizer, m["texts"], first, rm.cfg.n_ctx)
        p = predict_positive(rm, tokens, last, ids)
        vlabels = vader.labels(m["texts"])
        table.append(
            {
                "target": m["target"],
                "kl": m["kl"],
                "iteration": m["iteration"],
                "judge": judge.rates(m["texts"])[cfg.target],
                "vader": vlabels.count(cfg.target) / max(1, len(vlabels)),
                "rm_p_target": (1 - p if cfg.negative else p).mean().item(),
                "samples": m["texts"][: cfg.shown_samples],
            }
        )
    steps = [r["step"] for r in rows]
    sqrt_kl = [r["objective/sqrt_kl"] for r in rows]
    clip = [r["policy/clipfrac"] for r in rows]
    rewards = [r["objective/reward"] for r in rows]
    k = max(1, min(3, len(rewards) // 3))
    return {
        "rm_accuracy": rm_info["accuracy"],
        "rm_ece": rm_info["ece"],
        "label_counts": rm_info["label_counts"],
        "iterations": len(rows),
        "final_kl": out["kl"],
        "max_kl": cfg.max_kl,
        "reward_start": sum(rewards[:k]) / k if rewards else float("nan"),
        "reward_end": sum(rewards[-k:]) / k if rewards else float("nan"),
        "clip_in_band": sum(0.01 <= c <= 0.2 for c in clip) / max(1, len(clip)),
        "clip_median": sorted(clip)[len(clip) // 2] if clip else float("nan"),
        "low_clip_iterations": out["low_clip_iterations"],
        "sqrt_kl_r2": figures.line_r2(steps, sqrt_kl),
        "milestones": table,
        "wall_time_s": elapsed,
    }


def _mid(summary: dict[str, Any]) -> dict[str, Any]:
    """The milestone in the middle of the KLs reached (the original excluded)."""
    reached = [m for m in summary["milestones"] if m["target"] > 0]
    if not reached:
        raise KeyError("milestones beyond the original")
    return reached[(len(reached) - 1) // 2]


def _judge_mid(r: RunRecord) -> Verdict:
    s = r.summary
    orig, mid = s["milestones"][0], _mid(s)
    return Verdict(
        mid["judge"] > orig["judge"],
        f"{100 * orig['judge']:.0f}% at KL 0 -> {100 * mid['judge']:.0f}% at KL {mid['kl']:.1f}",
    )


def _reward_rises(r: RunRecord) -> Verdict:
    s = r.summary
    ok = s["reward_end"] > s["reward_start"] and s["final_kl"] <= s["max_kl"] * 1.5
    return Verdict(
        ok,
        f"{s['reward_start']:.3f} -> {s['reward_end']:.3f} nats, "
        f"stopped at KL {s['final_kl']:.2f} after {s['iterations']} updates",
    )


def _within_budget(r: RunRecord) -> Verdict:
    budget = r.config.get("time_budget_s", 0.0)
    wall = r.summary["wall_time_s"]
    return Verdict(
        not budget or wall <= budget,
        f"{wall / 60:.1f} min" + (f" (budget {budget / 60:.0f})" if budget else ""),
    )


CRITERIA = [
    Criterion(
        "reward model held-out accuracy >= min_rm_accuracy",
        lambda r: Verdict(
            r.summary["rm_accuracy"] >= r.config["min_rm_accuracy"],
            f"{100 * r.summary['rm_accuracy']:.1f}% (ECE {r.summary['rm_ece']:.3f})",
        ),
    ),
    Criterion("mean reward rises while KL stays <= max_kl", _reward_rises),
    Criterion(
        "clip fraction in 1-20% for most updates",
        lambda r: Verdict(
            r.summary["clip_in_band"] > 0.5,
            f"{100 * r.summary['clip_in_band']:.0f}% of updates in band "
            f"(median {100 * r.summary['clip_median']:.1f}%)",
        ),
    ),
    Criterion(
        "sqrt(KL) roughly linear in steps (R^2 >= 0.9)",
        lambda r: Verdict(r.summary["sqrt_kl_r2"] >= 0.9, f"R^2 = {r.summary['sqrt_kl_r2']:.3f}"),
    ),
    Criterion("independent judge rates a mid-KL checkpoint above the original", _judge_mid),
    Criterion("finishes within the preset's time budget", _within_budget),
]


RLHF = ExperimentSpec(
    name="rlhf",
    title="Chapter 7: RLHF of the Shakespeare model",
    presets=PRESETS,
    run=run,
    criteria=CRITERIA,
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
