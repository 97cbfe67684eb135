"""What a finished rlhf run is judged by: its summary figures and the success criteria."""

from __future__ import annotations

import json
import math
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
from dlcurriculum.core.report import Criterion, RunRecord, Verdict, not_measured

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
        "clip_in_band": sum(cfg.min_clipfrac <= c <= cfg.max_clipfrac for c in clip)
        / max(1, len(clip)),
        "clip_median": sorted(clip)[len(clip) // 2] if clip else float("nan"),
        # from the metrics, not train_ppo's counter, which restarts when a run resumes
        "low_clip_iterations": sum(c < cfg.min_clipfrac for c in clip),
        "sqrt_kl_r2": figures.line_r2(steps, sqrt_kl),
        "milestones": table,
        **({"lm_judge": {k: v for k, v in lm_judge.items() if k != "rates"}} if lm_judge else {}),
    }


Z95 = 1.959964
"""Two-sided 95% normal quantile: the intervals of the judge criterion."""


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (Wilson 1927); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def rise_interval(k0: int, n0: int, k1: int, n1: int, z: float = Z95) -> tuple[float, float]:
    """Interval of the rise k1/n1 - k0/n0 of a proportion, from two independent samples.

    Newcombe's hybrid score interval (Newcombe 1998, method 10): each rate's Wilson interval,
    combined. Unlike the Wald interval it stays inside [-1, 1] and keeps its coverage for
    rates near 0 or 1, where the judge's shares of positive samples can sit.
    """
    p0, p1 = k0 / n0, k1 / n1
    l0, u0 = wilson_interval(k0, n0, z)
    l1, u1 = wilson_interval(k1, n1, z)
    d = p1 - p0
    return d - math.hypot(p1 - l1, u0 - p0), d + math.hypot(u1 - p1, p0 - l0)


def _mid(summary: dict[str, Any]) -> dict[str, Any]:
    """The milestone in the middle of the KLs reached (the original excluded)."""
    reached = [m for m in summary["milestones"] if m["target"] > 0]
    if not reached:
        raise KeyError("milestones beyond the original")
    return reached[(len(reached) - 1) // 2]


def _judge_mid(r: RunRecord) -> Verdict:
    """The lexicon judge's share of target-sentiment samples rises by more than chance allows:
    the lower end of the rise's 95% interval is above 0 (a rise within the sampling noise of
    `eval_samples` samples per milestone is no evidence)."""
    s = r.summary
    if not any(m["target"] > 0 for m in s["milestones"]):
        return not_measured("PPO reached no KL milestone past the original")
    orig, mid = s["milestones"][0], _mid(s)
    n0, n1 = orig["n"], mid["n"]
    if not n0 or not n1:
        return not_measured("a milestone without samples")
    k0, k1 = round(orig["judge"] * n0), round(mid["judge"] * n1)
    low, high = rise_interval(k0, n0, k1, n1)
    return Verdict(
        low > 0,
        f"{k0}/{n0} at KL 0 -> {k1}/{n1} at KL {mid['kl']:.1f}: rise "
        f"{100 * (k1 / n1 - k0 / n0):+.0f} points, 95% interval "
        f"[{100 * low:+.1f}, {100 * high:+.1f}]",
    )


def _reward_rises(r: RunRecord) -> Verdict:
    """The reward rises by min_reward_gain, and PPO stopped inside the KL window.

    train_ppo measures the KL before each update and stops at the first iteration whose KL
    has reached max_kl, so the KL at the stop overshoots max_kl by up to one iteration's
    step (10.6 at max_kl 10 in the quick run): testing exactly max_kl would fail every run
    that stops as designed. A KL past max_kl_overshoot x max_kl means the stop did not work,
    or one iteration moved the policy far too much.
    """
    s, cfg = r.summary, r.config
    if not s["iterations"]:
        return not_measured("no PPO update ran")
    gain = s["reward_end"] - s["reward_start"]
    kl_limit = cfg["max_kl_overshoot"] * cfg["max_kl"]
    ok = gain >= cfg["min_reward_gain"] and s["final_kl"] <= kl_limit
    return Verdict(
        bool(ok),
        f"{s['reward_start']:.3f} -> {s['reward_end']:.3f} nats ({gain:+.3f}), "
        f"stopped at KL {s['final_kl']:.2f} (limit {kl_limit:.3g}) after "
        f"{s['iterations']} updates",
    )


def _within_budget(r: RunRecord) -> Verdict:
    budget = r.config["time_budget_s"]
    if not budget:  # the full preset: its time depends on the hardware, so it sets none
        return not_measured("no time budget set (--set time_budget_s=SECONDS to judge one)")
    wall = r.summary["wall_time_s"]
    return Verdict(wall <= budget, f"{wall / 60:.1f} min")


def _bt_accuracy(r: RunRecord) -> Verdict:
    if not r.config["n_comparison_prompts"]:
        return not_measured("comparison reward model skipped (n_comparison_prompts=0)")
    s = r.summary
    return Verdict(
        s["bt_accuracy"] >= r.config["min_bt_accuracy"],
        f"{100 * s['bt_accuracy']:.1f}% of {s['bt_pairs']['n_test']} pairs "
        f"(happy/sad RM as a comparison: {100 * s['bt_baseline_accuracy']:.1f}%)",
    )


def _clip_in_band(r: RunRecord) -> Verdict:
    s = r.summary
    if not s["iterations"]:
        return not_measured("no PPO update ran")
    return Verdict(
        s["clip_in_band"] >= r.config["min_clip_in_band"],
        f"{100 * s['clip_in_band']:.0f}% of {s['iterations']} updates in band "
        f"(median {100 * s['clip_median']:.1f}%)",
    )


def _sqrt_kl_r2(r: RunRecord) -> Verdict:
    r2 = r.summary["sqrt_kl_r2"]
    if not math.isfinite(r2):  # line_fit needs 3 iterations
        return not_measured("fewer than 3 PPO iterations to fit a line to")
    return Verdict(r2 >= r.config["min_sqrt_kl_r2"], f"R^2 = {r2:.3f}")


CRITERIA = [
    Criterion(
        "reward model held-out accuracy ≥ {min_rm_accuracy:.0%}",
        lambda r: Verdict(
            r.summary["rm_accuracy"] >= r.config["min_rm_accuracy"],
            f"{100 * r.summary['rm_accuracy']:.1f}% (ECE {r.summary['rm_ece']:.3f})",
        ),
    ),
    Criterion(
        "comparison (Bradley-Terry) reward model held-out pair accuracy ≥ {min_bt_accuracy:.0%}",
        _bt_accuracy,
    ),
    Criterion(
        "mean reward rises by ≥ {min_reward_gain:g} nats, and PPO stops at a KL ≤ "
        "{max_kl_overshoot:g} × max_kl ({max_kl:g} nats)",
        _reward_rises,
    ),
    Criterion(
        "clip fraction in {min_clipfrac:.0%}–{max_clipfrac:.0%} for ≥ {min_clip_in_band:.0%} "
        "of updates",
        _clip_in_band,
    ),
    Criterion("√KL linear in steps: R² ≥ {min_sqrt_kl_r2:g}", _sqrt_kl_r2),
    Criterion(
        "independent (lexicon) judge rates a mid-KL checkpoint above the original: 95% "
        "interval of the rise above 0",
        _judge_mid,
    ),
    Criterion("wall time ≤ time_budget_s ({time_budget_s:.0f} s)", _within_budget),
]
