"""The stages of `dlc run rlhf` before and after PPO, each resumable from its files.

Labels (labels.sqlite), the happy/sad reward model (reward_stage.py) and the
comparison reward model (comparison_rm.pt/.json) are each skipped when their files exist,
so a resumed run goes straight to PPO; the judges rate the milestones after PPO, and
`summarize` gathers the figures the report's criteria read.
"""

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dlcurriculum.ch07_alignment.comparisons import (
    BTTrainSettings,
    Comparison,
    ScalarRewardModel,
    label_pairs,
    pair_accuracy,
    rewards,
    train_bradley_terry,
)
from dlcurriculum.ch07_alignment.config import RLHFConfig
from dlcurriculum.ch07_alignment.judge import LexiconJudge
from dlcurriculum.ch07_alignment.labeler import VaderLabeler, label_synthetically, load_labels
from dlcurriculum.ch07_alignment.labels import LabelStore
from dlcurriculum.ch07_alignment.lm_judge import agreement, load_judge
from dlcurriculum.ch07_alignment.report import line_r2
from dlcurriculum.ch07_alignment.reward_model import encode_texts
from dlcurriculum.ch07_alignment.rlhf import Milestone, PPOOutcome
from dlcurriculum.ch07_alignment.samples import (
    SamplingSettings,
    corpus_prompts,
    prompt_continuations,
    sample_meta,
    start_id,
    unconditional_samples,
)
from dlcurriculum.ch07_alignment.tasks import HappySad
from dlcurriculum.core import runs
from dlcurriculum.core.errors import DlcError, install_hint
from dlcurriculum.core.precision import autocast, choose_dtype
from dlcurriculum.data import load_shakespeare
from dlcurriculum.lm import OFFLINE_DEFAULT, smollm2_dir


def stage_labels(
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


def stage_comparisons(
    cfg: RLHFConfig, run_dir: Path, policy: Any, tokenizer: Any, happy_sad: HappySad
) -> ScalarRewardModel | None:
    """Bradley-Terry reward model on VADER-labeled pairs; its held-out pair accuracy.

    The baseline ranks the same held-out pairs by the happy/sad reward model's
    log P(positive) of each continuation alone (the text it was trained on).
    Returns the model (None when n_comparison_prompts is 0), frozen.
    """
    path, weights = run_dir / "comparison_rm.json", run_dir / "comparison_rm.pt"
    if cfg.n_comparison_prompts == 0:
        return None
    if path.exists():
        bt = ScalarRewardModel(policy)
        bt.load_state_dict(torch.load(weights, map_location=next(policy.parameters()).device))
        return bt.eval().requires_grad_(False)
    seed = cfg.seed + 4
    prompts = corpus_prompts(load_shakespeare(), cfg.n_comparison_prompts, cfg.prompt_pieces, seed)
    settings = SamplingSettings(cfg.sample_tokens, 1.0, cfg.start_text, seed)
    rows = prompt_continuations(policy, tokenizer, prompts, 2, settings)
    scores = VaderLabeler(cfg.neutral_threshold).scores([c for _, c in rows])
    pairs = label_pairs(rows, scores, cfg.comparison_margin)
    if len(pairs) < 4:
        raise DlcError(
            f"only {len(pairs)} of {len(prompts)} pairs are not ties: raise "
            "n_comparison_prompts or lower comparison_margin"
        )
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(pairs), generator=g).tolist()
    n_test = max(2, round(cfg.heldout_fraction * len(pairs)))
    test, train = [pairs[i] for i in order[:n_test]], [pairs[i] for i in order[n_test:]]
    first, n_ctx = start_id(tokenizer, cfg.start_text), policy.cfg.n_ctx

    def encode(
        batch: list[Comparison], side: str, with_prompt: bool = True
    ) -> tuple[Tensor, Tensor]:
        texts = [("\n" + c.prompt if with_prompt else "") + getattr(c, side) for c in batch]
        return encode_texts(tokenizer, texts, first, n_ctx)

    bt = ScalarRewardModel(policy)
    bt_settings = BTTrainSettings(cfg.bt_epochs, cfg.rm_batch_size, cfg.bt_lr)
    # float32 even where bf16 is native: in bf16 the summed scores' differences, which are
    # what Bradley-Terry learns from, drowned in rounding (held-out accuracy 52.6%, chance)
    losses = train_bradley_terry(
        bt, encode(train, "chosen"), encode(train, "rejected"), bt_settings, g
    )
    r_c, r_r = rewards(bt, *encode(test, "chosen")), rewards(bt, *encode(test, "rejected"))
    base_c = happy_sad.p_positive([c.chosen for c in test]).log()
    base_r = happy_sad.p_positive([c.rejected for c in test]).log()
    clear = torch.tensor([c.margin >= 0.5 for c in test])
    with runs.atomic_open(weights, "wb") as f:  # before the json, which marks the stage done
        torch.save(bt.state_dict(), f)
    runs.write_json(
        path,
        {
            "accuracy": pair_accuracy(r_c, r_r),
            "accuracy_clear": pair_accuracy(r_c[clear], r_r[clear]) if clear.any() else None,
            "baseline_accuracy": pair_accuracy(base_c, base_r),
            "baseline_accuracy_clear": (
                pair_accuracy(base_c[clear], base_r[clear]) if clear.any() else None
            ),
            "n_prompts": len(prompts),
            "n_pairs": len(pairs),
            "n_ties": len(prompts) - len(pairs),
            "n_train": len(train),
            "n_test": len(test),
            "n_test_clear": int(clear.sum()),
            "margin": cfg.comparison_margin,
            "first_losses": losses[:5],
            "last_losses": losses[-5:],
            "heldout_reward_gap": (r_c - r_r).tolist(),
            "heldout_label_margin": [c.margin for c in test],
            "examples": [asdict(c) for c in test[:4]],
        },
    )
    return bt.eval().requires_grad_(False)


def check_judge(cfg: RLHFConfig) -> None:
    """Fail at the start, not after PPO, if the chat-model judge's LM cannot be loaded.

    Raises:
        DlcError: `transformers` is missing, or SmolLM2's weights cannot be found.
    """
    if cfg.judge_lm in ("", "tiny"):
        return
    if importlib.util.find_spec("transformers") is None:
        raise DlcError(
            f"the chat-model judge needs the `hf` extra: {install_hint('hf')}, "
            "or skip that judge with --set judge_lm="
        )
    if cfg.judge_lm == OFFLINE_DEFAULT:
        smollm2_dir()  # verifies (or builds, once) the cached weights


def lm_judge_rates(
    cfg: RLHFConfig,
    device: torch.device,
    milestones: list[Milestone],
    heldout: list[tuple[str, str]],
) -> dict[str, Any]:
    """The chat-LM judge's target share per milestone, and its agreement with the labels."""
    if not cfg.judge_lm:
        return {}
    judge = load_judge(cfg.judge_lm, str(device))
    texts = [t for m in milestones for t in m["texts"][: cfg.judge_lm_samples]]
    sample = heldout[: cfg.judge_lm_agreement]
    # one call, so that every batch is full
    with autocast(choose_dtype(cfg.aux_dtype, device), device):
        labels = judge.labels(texts + [t for t, _ in sample])
    rates, start = [], 0
    for m in milestones:
        n = len(m["texts"][: cfg.judge_lm_samples])
        rates.append(labels[start : start + n].count(cfg.target) / max(1, n))
        start += n
    return {
        "model": cfg.judge_lm,
        "samples_per_milestone": cfg.judge_lm_samples,
        "rates": rates,
        **agreement(labels[start:], [lab for _, lab in sample]),
    }


def summarize(
    cfg: RLHFConfig,
    run_dir: Path,
    happy_sad: HappySad,
    milestones: list[Milestone],
    out: PPOOutcome,
    lm_judge: dict[str, Any],
) -> dict[str, Any]:
    """The figures the criteria read: RM accuracy, reward, clip fractions, sqrt(KL) fit, judge."""
    rm_info = json.loads((run_dir / "reward_model.json").read_text())
    rows = [r for r in runs.read_metrics(run_dir) if "policy/clipfrac" in r]
    judge, vader = LexiconJudge(), VaderLabeler(cfg.neutral_threshold)
    table = []
    for i, m in enumerate(milestones):
        p = happy_sad.p_positive(m["texts"])
        vlabels = vader.labels(m["texts"])
        table.append(
            {
                "target": m["target"],
                "kl": m["kl"],
                "iteration": m["iteration"],
                "n": len(m["texts"]),  # the judge's sample count: its interval needs it
                "judge": judge.rates(m["texts"])[cfg.target],
                "vader": vlabels.count(cfg.target) / max(1, len(vlabels)),
                "rm_p_target": (1 - p if cfg.negative else p).mean().item(),
                **({"lm_judge": lm_judge["rates"][i]} if lm_judge else {}),
                "samples": m["texts"][: cfg.shown_samples],
            }
        )
    steps = [r["step"] for r in rows]
    sqrt_kl = [r["objective/sqrt_kl"] for r in rows]
    clip = [r["policy/clipfrac"] for r in rows]
    reward = [r["objective/reward"] for r in rows]  # per iteration
    k = max(1, min(3, len(reward) // 3))
    bt_path = run_dir / "comparison_rm.json"
    bt = json.loads(bt_path.read_text()) if bt_path.exists() else None
    return {
        **(
            {
                "bt_accuracy": bt["accuracy"],
                "bt_accuracy_clear": bt["accuracy_clear"],
                "bt_baseline_accuracy": bt["baseline_accuracy"],
                "bt_baseline_accuracy_clear": bt["baseline_accuracy_clear"],
                "bt_pairs": {k: bt[k] for k in ("n_prompts", "n_ties", "n_train", "n_test")},
            }
            if bt
            else {}
        ),
        "rm_accuracy": rm_info["accuracy"],
        "rm_accuracy_ci95": rm_info["accuracy_ci95"],
        "rm_majority": rm_info["majority"],
        "rm_base": rm_info["base"],
        "rm_n_train": rm_info["n_train"],
        "rm_n_train_corpus": rm_info["n_train_corpus"],
        "rm_n_test_non_neutral": rm_info["n_test_non_neutral"],
        "label_curve": rm_info["label_curve"],
        "rm_ece": rm_info["ece"],
        "label_counts": rm_info["label_counts"],
        "iterations": len(rows),
        "final_kl": out.kl,
        "max_kl": cfg.max_kl,
        "reward_start": sum(reward[:k]) / k if reward else float("nan"),
        "reward_end": sum(reward[-k:]) / k if reward else float("nan"),
        "clip_in_band": sum(cfg.min_clipfrac <= c <= cfg.max_clipfrac for c in clip)
        / max(1, len(clip)),
        "clip_median": sorted(clip)[len(clip) // 2] if clip else float("nan"),
        # from the metrics, not train_ppo's counter, which restarts when a run resumes
        "low_clip_iterations": sum(c < cfg.min_clipfrac for c in clip),
        "sqrt_kl_r2": line_r2(steps, sqrt_kl),
        "milestones": table,
        # what auto meant on this machine (the policy itself is always float32)
        "aux_dtype": str(choose_dtype(cfg.aux_dtype, torch.device("cpu"))).removeprefix("torch."),
        **({"lm_judge": {k: v for k, v in lm_judge.items() if k != "rates"}} if lm_judge else {}),
    }
