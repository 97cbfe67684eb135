"""What a finished rlhf run is judged by: its summary figures and the success criteria."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlcurriculum.ch07_alignment import figures
from dlcurriculum.ch07_alignment.judge import LexiconJudge
from dlcurriculum.ch07_alignment.labeler import VaderLabeler
from dlcurriculum.ch07_alignment.reward_model import (
    encode_texts,
    predict_positive,
)
from dlcurriculum.core import runs
from dlcurriculum.core.report import Criterion, RunRecord, Verdict

if TYPE_CHECKING:
    from dlcurriculum.ch07_alignment.experiments import RLHFConfig


def summarize(
    cfg: RLHFConfig,
    run_dir: Path,
    rm: Any,
    ids: tuple[int, int],
    tokenizer: Any,
    first: int,
    milestones: list[dict[str, Any]],
    out: dict[str, Any],
    lm_judge: dict[str, Any],
) -> dict[str, Any]:
    """The figures the criteria read: RM accuracy, reward, clip fractions, sqrt(KL) fit, judge."""
    rm_info = json.loads((run_dir / "reward_model.json").read_text())
    rows = [r for r in runs.read_metrics(run_dir) if "policy/clipfrac" in r]
    judge, vader = LexiconJudge(), VaderLabeler(cfg.neutral_threshold)
    table = []
    for i, m in enumerate(milestones):
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
                **({"lm_judge": lm_judge["rates"][i]} if lm_judge else {}),
                "samples": m["texts"][: cfg.shown_samples],
            }
        )
    steps = [r["step"] for r in rows]
    sqrt_kl = [r["objective/sqrt_kl"] for r in rows]
    clip = [r["policy/clipfrac"] for r in rows]
    rewards = [r["objective/reward"] for r in rows]
    k = max(1, min(3, len(rewards) // 3))
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
        "rm_ece": rm_info["ece"],
        "label_counts": rm_info["label_counts"],
        "iterations": len(rows),
        "final_kl": out["kl"],
        "max_kl": cfg.max_kl,
        "reward_start": sum(rewards[:k]) / k if rewards else float("nan"),
        "reward_end": sum(rewards[-k:]) / k if rewards else float("nan"),
        "clip_in_band": sum(0.01 <= c <= 0.2 for c in clip) / max(1, len(clip)),
        "clip_median": sorted(clip)[len(clip) // 2] if clip else float("nan"),
        # from the metrics, not train_ppo's counter, which restarts when a run resumes
        "low_clip_iterations": sum(c < 0.01 for c in clip),
        "sqrt_kl_r2": figures.line_r2(steps, sqrt_kl),
        "milestones": table,
        **({"lm_judge": {k: v for k, v in lm_judge.items() if k != "rates"}} if lm_judge else {}),
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
    Criterion(
        "comparison (Bradley-Terry) reward model held-out pair accuracy >= min_bt_accuracy",
        lambda r: Verdict(
            r.summary["bt_accuracy"] >= r.config["min_bt_accuracy"],
            f"{100 * r.summary['bt_accuracy']:.1f}% of {r.summary['bt_pairs']['n_test']} pairs "
            f"(happy/sad RM as a comparison: {100 * r.summary['bt_baseline_accuracy']:.1f}%)",
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
