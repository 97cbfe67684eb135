"""The rlhf report: its success criteria, figures and tables, read from the run folder alone.

The figures the criteria read are gathered by `stages.summarize` at the end of the run.
"""

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)
from dlcurriculum.core.stats import line_fit, rise_interval


def line_r2(x: Sequence[int | float], y: Sequence[int | float]) -> float:
    """R^2 of the least-squares line through (x, y)."""
    return line_fit(x, y)[2]


def draw(record: RunRecord) -> list[Path]:
    """sqrt(KL) vs step, reward vs KL, clip fraction, reliability, judge per milestone."""
    plt = pyplot()
    out = record.run_dir / "figures"
    paths = []
    steps, sqrt_kl = record.series("objective/sqrt_kl")
    a, b, r2 = line_fit(steps, sqrt_kl)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(steps, sqrt_kl, "o-", ms=3, label="measured")
    if steps and a == a:
        ax.plot(steps, [a * s + b for s in steps], "--", label=f"line fit, R$^2$={r2:.3f}")
    ax.set(
        xlabel="PPO iteration",
        ylabel="sqrt(KL) [sqrt(nats)]",
        title="Distance from the original model",
    )
    ax.legend()
    paths.append(save_figure(fig, out / "sqrt_kl.png"))

    _, kl = record.series("objective/kl")
    _, reward = record.series("objective/reward")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(kl, reward, "o-", ms=3)
    ax.set(
        xlabel="KL(current || original) per completion [nats]",
        ylabel="mean reward (log P)",
        title="Reward model's reward vs KL",
    )
    paths.append(save_figure(fig, out / "reward_vs_kl.png"))

    cs, clip = record.series("policy/clipfrac")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(cs, [100 * c for c in clip], "o-", ms=3)
    low, high = record.config.get("min_clipfrac", 0.01), record.config.get("max_clipfrac", 0.2)
    ax.axhspan(
        100 * low, 100 * high, color="green", alpha=0.1, label=f"healthy {low:.0%}-{high:.0%}"
    )
    ax.set(xlabel="PPO iteration", ylabel="ratios clipped [%]", title="Clip fraction")
    ax.legend()
    paths.append(save_figure(fig, out / "clipfrac.png"))

    rm_path = record.run_dir / "reward_model.json"
    if rm_path.exists():
        rel = json.loads(rm_path.read_text())["reliability"]
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot([0, 1], [0, 1], "k:", label="perfect calibration")
        ax.scatter(
            rel["mean_p"],
            rel["frac_positive"],
            s=[8 + c for c in rel["count"]],
            label="bins (size = count)",
        )
        ax.plot(rel["mean_p"], rel["frac_positive"], "-")
        ax.set(
            xlabel="predicted P(positive)",
            ylabel="observed share positive",
            title="Reward model reliability (held out)",
            xlim=(0, 1),
            ylim=(0, 1),
        )
        ax.legend(loc="upper left")
        paths.append(save_figure(fig, out / "reliability.png"))

    curve = record.summary.get("label_curve") or []
    if len(curve) > 1:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ns = [c["n"] for c in curve]
        acc = [100 * c["accuracy"] for c in curve]
        err = [
            [a - 100 * c["ci95"][0] for a, c in zip(acc, curve, strict=True)],
            [100 * c["ci95"][1] - a for a, c in zip(acc, curve, strict=True)],
        ]
        ax.errorbar(ns, acc, yerr=err, fmt="o-", capsize=3, label="held-out accuracy, 95% CI")
        ax.axhline(100 * record.summary["rm_majority"], color="k", ls=":", label="majority class")
        bar = 100 * record.config.get("min_rm_accuracy", 0.0)
        ax.axhline(bar, color="green", ls="--", label=f"bar {bar:.0f}%")
        ax.set(
            xscale="log",
            xlabel="labels the reward model trained on",
            ylabel="accuracy on non-neutral labels [%]",
            title="Reward model vs labels",
        )
        ax.legend()
        paths.append(save_figure(fig, out / "label_curve.png"))

    bt_path = record.run_dir / "comparison_rm.json"
    if bt_path.exists():
        bt = json.loads(bt_path.read_text())
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.scatter(bt["heldout_label_margin"], bt["heldout_reward_gap"], s=6, alpha=0.5)
        ax.axhline(0, color="k", lw=0.8)
        ax.set(
            xlabel="VADER score of chosen minus rejected",
            ylabel="r(chosen) - r(rejected)",
            title=f"Comparison RM on held-out pairs ({100 * bt['accuracy']:.0f}% above 0)",
        )
        paths.append(save_figure(fig, out / "comparison_rm.png"))

    table = record.summary.get("milestones", [])
    if table:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        kls = [m["kl"] for m in table]
        for key, label in (
            ("judge", "lexicon judge"),
            ("lm_judge", "chat-LM judge"),
            ("vader", "VADER (trained the RM)"),
            ("rm_p_target", "reward model P"),
        ):
            if key in table[0]:
                ax.plot(kls, [m[key] for m in table], "o-", label=label)
        ax.set(
            xlabel="KL at milestone [nats]",
            ylabel="share / probability of target sentiment",
            title="Who sees the sentiment rise",
        )
        ax.legend()
        paths.append(save_figure(fig, out / "judges.png"))
    return paths


def sections(record: RunRecord) -> list[tuple[str, str]]:
    """Label counts, the judge table, and samples at every KL milestone."""
    s = record.summary
    cfg = record.config
    src = cfg.get("labels") or "synthetic: VADER lexicon, a stand-in for human labelers"
    counts = s.get("label_counts", {})
    labels = (
        f"Labels from: **{src}**. Counts: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f". Target sentiment: **{'negative' if cfg.get('negative') else 'positive'}**."
    )
    lm = s.get("lm_judge")
    rows = [
        (
            f"{m['target']:g}",
            f"{m['kl']:.2f}",
            m["iteration"],
            f"{100 * m['judge']:.0f}%",
            *([f"{100 * m['lm_judge']:.0f}%"] if lm else []),
            f"{100 * m['vader']:.0f}%",
            f"{m['rm_p_target']:.2f}",
        )
        for m in s.get("milestones", [])
    ]
    head = ["milestone", "KL", "iteration", "lexicon judge", *(["LM judge"] if lm else [])]
    table = markdown_table([*head, "VADER", "RM P(target)"], rows)
    table = "Share of samples with the target sentiment per judge.\n\n" + table
    if lm:
        table += (
            f"\n\nLM judge: `{lm['model']}` asked zero-shot for positive or negative, on the "
            f"first {lm['samples_per_milestone']} samples of each milestone. On {lm['n']} "
            "held-out labeled samples (non-neutral labels) it agrees with the labels "
            f"**{100 * lm['agreement']:.0f}%** of the time, and calls "
            f"{100 * lm['judge_positive']:.0f}% "
            f"positive where the labels have {100 * lm['reference_positive']:.0f}%: trust its "
            "rates only that far."
        )
    samples = []
    for m in s.get("milestones", []):
        samples.append(f"**KL {m['kl']:.2f}** (milestone {m['target']:g}):\n")
        samples += [f"- `{t.strip()!r}`" for t in m["samples"]]
        samples.append("")
    curve = s.get("label_curve") or []
    if curve:
        labels += (
            f"\n\nReward model{_recipe(s, cfg.get('corpus_share', 0.0))} by the number "
            "of labels it trained on (the same held-out labels; always answering the "
            "commoner sentiment scores "
            f"{100 * s['rm_majority']:.1f}%):\n\n"
            + markdown_table(
                ["labels", "held-out accuracy", "95% interval"],
                [
                    (
                        c["n"],
                        f"{100 * c['accuracy']:.1f}%",
                        f"{100 * c['ci95'][0]:.1f}–{100 * c['ci95'][1]:.1f}%",
                    )
                    for c in curve
                ],
            )
        )
    return [
        ("Labels", labels),
        *_comparison_section(record),
        ("Judges per KL milestone", table),
        ("Samples per KL milestone", "\n".join(samples)),
    ]


def _comparison_section(record: RunRecord) -> list[tuple[str, str]]:
    """The Bradley-Terry reward model's pairs, accuracy and baseline (if that stage ran)."""
    path = record.run_dir / "comparison_rm.json"
    if not path.exists():
        return []
    bt = json.loads(path.read_text())

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    rows = [
        ("Bradley-Terry reward model", pct(bt["accuracy"]), pct(bt["accuracy_clear"])),
        (
            "happy/sad RM log P(positive)",
            pct(bt["baseline_accuracy"]),
            pct(bt["baseline_accuracy_clear"]),
        ),
    ]
    text = (
        f"{bt['n_prompts']} corpus prompts, two continuations each. The continuation with the "
        f"higher VADER compound score is preferred; {bt['n_ties']} pairs whose scores differ "
        f"by less than {bt['margin']:g} are ties and were dropped. {bt['n_train']} pairs "
        f"trained a scalar head on a copy of the policy with -log sigma(r_chosen - "
        f"r_rejected); {bt['n_test']} held-out pairs ({bt['n_test_clear']} clear ones, "
        "scores apart by at least 0.5) test it. The baseline ranks the same pairs by the "
        "happy/sad reward model's log P(positive) of each continuation alone (the text it "
        "was trained on, one sample at a time).\n\n"
        + markdown_table(["ranked by", "held-out pair accuracy", "clear pairs"], rows)
    )
    return [("Comparison reward model (Bradley-Terry)", text)]


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


def _rm_accuracy(r: RunRecord) -> Verdict:
    """Held-out accuracy at the bar, and its 95% interval above always answering the commoner
    sentiment (with few labels a reward model can sit at the majority class and look fine)."""
    s = r.summary
    if "rm_accuracy_ci95" not in s:
        return not_measured("this run predates the accuracy interval (rerun it)")
    if not s["rm_n_test_non_neutral"]:
        return not_measured("no held-out label is positive or negative")
    acc, (low, high), base = s["rm_accuracy"], s["rm_accuracy_ci95"], s["rm_majority"]
    return Verdict(
        acc >= r.config["min_rm_accuracy"] and low > base,
        f"{100 * acc:.1f}% of {s['rm_n_test_non_neutral']} (95% interval {100 * low:.1f}–"
        f"{100 * high:.1f}%; majority class {100 * base:.1f}%), trained on "
        f"{s['rm_n_train']} labels{_recipe(s, None)}; ECE {s['rm_ece']:.3f}",
    )


def _recipe(s: dict[str, Any], share: float | None) -> str:
    """' (BASE; N of them / K% of each count clear corpus snippets)', where the run says."""
    n = s.get("rm_n_train_corpus", 0)
    mix = (
        f"; {n} of them" if share is None else f"; {share:.0%} of each count"
    ) + " clear corpus snippets"
    return f" ({BASES[s['rm_base']]}{mix if n else ''})" if "rm_base" in s else ""


BASES = {"shakespeare": "the chapter-1 model", "minilm": "a MiniLM sentence-encoder head"}
"""How a report names each reward-model base."""


RLHF_CRITERIA = (
    Criterion(
        "reward model held-out accuracy ≥ {min_rm_accuracy:.0%}, 95% interval above the "
        "majority-class rate",
        _rm_accuracy,
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
)
