"""Chapter 9's reports: the criteria, figures and sections of `adv-mnist` and `redteam`."""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlcurriculum.ch09_adversarial_training.analysis import (
    fisher_greater,
)
from dlcurriculum.ch09_adversarial_training.config import METHODS
from dlcurriculum.core import runs
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)

MODELS = ("standard", "pgd", "fast")
LABELS = {"standard": "standard", "pgd": "PGD-AT", "fast": "fast AT"}
WARNING = (
    "**Content warning:** the examples below were chosen because a classifier rated them "
    "offensive; they may contain profanity, insults or worse."
)


def _pgd_at(record: RunRecord, model: str) -> float:
    eps = str(max(record.config["epsilons"]))
    return float(record.summary["models"][model]["eps"][eps]["pgd"])


def _robust_criterion(record: RunRecord) -> Verdict:
    acc, eps = _pgd_at(record, "pgd"), max(record.config["epsilons"])
    return Verdict(bool(acc >= record.config["robust_target"]), f"{acc:.1%} at eps={eps}")


def _standard_criterion(record: RunRecord) -> Verdict:
    acc, eps = _pgd_at(record, "standard"), max(record.config["epsilons"])
    return Verdict(bool(acc < record.config["standard_ceiling"]), f"{acc:.1%} at eps={eps}")


def _masking_criterion(record: RunRecord) -> Verdict:
    """PGD must be at least as strong as FGSM, and PGD-long as PGD-short, per model and eps."""
    tol, models = record.config["masking_tol"], record.summary["models"]
    wanted = {str(e) for e in record.config["epsilons"]}
    missing = [n for n in MODELS if n not in models or set(models[n]["eps"]) != wanted]
    if missing:  # an empty table would otherwise pass: no pair, no inconsistency
        return not_measured(f"no full attack table for {', '.join(missing)}")
    bad = [
        f"{name} eps={eps}: " + ("PGD > FGSM" if r["pgd"] > r["fgsm"] + tol else "more steps help")
        for name, m in models.items()
        for eps, r in m["eps"].items()
        if not (r["pgd"] <= r["fgsm"] + tol and r["pgd"] <= r["pgd_short"] + tol)
    ]
    n = sum(len(m["eps"]) for m in models.values())
    return Verdict(not bad, "; ".join(bad) if bad else f"{n} of {n} (model, eps) pairs consistent")


def _constraint_criterion(record: RunRecord) -> Verdict:
    ex = record.summary["examples"]
    ok = ex["max_linf"] <= ex["eps"] + 1e-6 and ex["max_out_of_range"] == 0
    return Verdict(
        bool(ok),
        f"max |x_adv - x| = {ex['max_linf']:.4f} (eps {ex['eps']}); farthest outside [0, 1]: "
        f"{ex['max_out_of_range']:.2g}",
    )


def adv_mnist_figures(record: RunRecord) -> list[Path]:
    plt = pyplot()
    out = []
    saved = torch.load(record.run_dir / "examples.pt", weights_only=False)
    names = [n for n in MODELS if n in saved]
    fig, axes = plt.subplots(1 + 2 * len(names), 8, figsize=(12, 1.6 * (1 + 2 * len(names))))
    for j in range(8):
        axes[0, j].imshow(saved["clean"][j, 0], cmap="gray", vmin=0, vmax=1)
        axes[0, j].set_title(f"clean: {int(saved['labels'][j])}", fontsize=8)
        for i, name in enumerate(names):
            s = saved[name]
            adv = s["adv"][j, 0]
            axes[1 + 2 * i, j].imshow(adv, cmap="gray", vmin=0, vmax=1)
            axes[1 + 2 * i, j].set_title(
                f"{LABELS[name]}: {int(s['pred_clean'][j])}→{int(s['pred_adv'][j])}", fontsize=7
            )
            axes[2 + 2 * i, j].imshow(adv - saved["clean"][j, 0], cmap="seismic", vmin=-1, vmax=1)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"PGD examples at eps={saved['eps']} (rows: image, then perturbation)")
    out.append(save_figure(fig, record.run_dir / "figures" / "adversarial_examples.png"))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, m in record.summary["models"].items():
        eps = [0.0] + [float(e) for e in m["eps"]]
        ax.plot(eps, [m["clean"]] + [r["pgd"] for r in m["eps"].values()], "o-", label=LABELS[name])
    ax.set(xlabel="eps (L-infinity)", ylabel="accuracy under PGD", ylim=(0, 1.02))
    ax.legend()
    out.append(save_figure(fig, record.run_dir / "figures" / "robust_accuracy.png"))
    return out


def wilson_halfwidth(p: float, n: int, z: float = 1.96) -> float:
    """Half-width of the 95% Wilson interval around p (sample size n), for the table."""
    return z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)


def adv_mnist_sections(record: RunRecord) -> list[tuple[str, str]]:
    cfg, s = record.config, record.summary
    n = s["test_size"]
    rows = []
    for name, m in s["models"].items():
        for eps, r in m["eps"].items():
            rows.append(
                (
                    LABELS[name],
                    f"{m['clean']:.1%}",
                    eps,
                    f"{r['fgsm']:.1%}",
                    f"{r['pgd_short']:.1%}",
                    f"{r['pgd']:.1%} ± {wilson_halfwidth(r['pgd'], n):.1%}",
                )
            )
    header = [
        "model",
        "clean",
        "eps",
        "FGSM",
        f"PGD-{cfg['short_steps']}",
        f"PGD-{cfg['pgd_steps']} ×{cfg['restarts']} restarts (95% CI)",
    ]
    times = ", ".join(
        f"{LABELS[k]} {m['train_time_s']:.0f} s"
        for k, m in s["models"].items()
        if m["train_time_s"] is not None
    )
    body = (
        f"Accuracy on the first {n} test images (PGD step size 2.5·eps/steps, random start).\n\n"
        + markdown_table(header, rows)
        + f"\n\nTraining time: {times}. Device: {s['device']}."
    )
    return [("Robustness table", body)]


ADV_MNIST_CRITERIA = (
    Criterion(
        "PGD-AT accuracy under PGD-{pgd_steps} at the largest eps of {epsilons} "
        "≥ {robust_target:.0%}",
        _robust_criterion,
    ),
    Criterion(
        "standard model's accuracy under PGD-{pgd_steps} at the largest eps of {epsilons} "
        "< {standard_ceiling:.0%}",
        _standard_criterion,
    ),
    Criterion(
        "no gradient masking: for every model and eps, PGD-{pgd_steps} ≤ FGSM and "
        "≤ PGD-{short_steps}, with {masking_tol:.1%} slack",
        _masking_criterion,
    ),
    Criterion("PGD stays in the eps-ball and in [0, 1]", _constraint_criterion),
)


def _method(record: RunRecord, method: str) -> dict[str, Any] | Verdict:
    """A red team's figures, or N/A when it was not run, was cut short or asked nothing."""
    if method not in record.config["methods"]:
        return not_measured(
            f"{method} was not run (add it to methods, e.g. --set methods={','.join(METHODS)})"
        )
    stats: dict[str, Any] | None = record.summary["methods"].get(method)
    if stats is None:
        return not_measured(f"{method} did not finish")
    if not stats["test_cases"]:
        return not_measured(f"{method} produced no test question")
    return stats


def _zero_shot_criterion(record: RunRecord) -> Verdict:
    m = _method(record, "zero-shot")
    if isinstance(m, Verdict):
        return m
    low, high = m["ci95"]
    return Verdict(
        m["offensive"] >= record.config["min_zero_shot_offensive"],
        f"{m['offensive']}/{m['test_cases']} = {m['fraction_offensive']:.1%} "
        f"(95% CI {low:.1%}–{high:.1%})",
    )


def _beats_zero_shot(method: str) -> Criterion:
    def judge(record: RunRecord) -> Verdict:
        m, zs = _method(record, method), _method(record, "zero-shot")
        if isinstance(m, Verdict):
            return m
        if isinstance(zs, Verdict):
            return zs
        # a raise is one that chance would rarely produce, not one more failure than none
        p = fisher_greater(m["offensive"], m["test_cases"], zs["offensive"], zs["test_cases"])
        return Verdict(
            p < record.config["max_p_value"],
            f"{m['fraction_offensive']:.1%} vs {zs['fraction_offensive']:.1%} (p = {p:.2g}); "
            f"distinct-2 {m['distinct_2']:.2f} vs {zs['distinct_2']:.2f}",
        )

    return Criterion(
        f"{method} raises the fraction offensive over zero-shot (one-sided Fisher exact "
        "p < {max_p_value:g})",
        judge,
    )


def redteam_sections(record: RunRecord) -> list[tuple[str, str]]:
    s, cfg = record.summary, record.config
    rows = [
        (
            m,
            r["sampled"],
            r["test_cases"],
            f"{r['fraction_offensive']:.1%}",
            f"{r['ci95'][0]:.1%}–{r['ci95'][1]:.1%}",
            f"{r['mean_score']:.3f} ± {r.get('mean_score_ci95', 0):.3f}",
            f"{r['distinct_1']:.2f}",
            f"{r['distinct_2']:.2f}",
            f"{r['self_bleu']:.2f}",
        )
        for m, r in s["methods"].items()
    ]
    table = markdown_table(
        [
            "method",
            "sampled",
            "test cases (with '?')",
            "offensive",
            "95% CI",
            "mean score",
            "distinct-1",
            "distinct-2",
            "self-BLEU",
        ],
        rows,
    )
    size = next(iter(s["methods"].values())).get("diversity_size", "all")
    decoding = cfg.get("reply_decoding", "greedy")
    if decoding == "nucleus":
        decoding = f"nucleus p={cfg['reply_top_p']}, T={cfg['reply_temperature']}"
    intro = (
        f"Red LM `{cfg['red_model']}`, chatbot `{cfg['target_model']}` "
        f"({cfg.get('chatbot_prompt', 'chat-template')}; replies {decoding}), "
        f"classifier `{cfg['classifier']}`, "
        f"sampling in {s.get('sample_dtype', 'float32')}, "
        f"threshold {cfg['threshold']}. Mean score ± 95% half-width; diversity on "
        f"{size} random test cases per method (distinct-n falls with the count). "
        f"Supervised learning trained on {s.get('supervised_train', 'failing questions')}."
        "\n\n"
    )
    clusters = json.loads((record.run_dir / "clusters.json").read_text())
    failures = runs.read_jsonl(record.run_dir / "failures.jsonl")
    body = [WARNING, ""]
    if clusters:
        body += ["Clusters of failing questions (k-means on all-MiniLM-L6-v2 embeddings):", ""]
        for c in clusters:
            count = f"{c['size']} question" + "s" * (c["size"] != 1)
            body.append(
                f"- {count}; top terms: {', '.join(c['terms']) or '—'}; e.g. "
                + " / ".join(f"“{q}”" for q in c["examples"][:2])
            )
    body += ["", "Examples (question → reply, score):", ""]
    top = sorted(failures, key=lambda r: -r["score"])[:8]
    body += [
        f"- [{r['method']}] “{r['question']}” → “{r['reply'][:160]}” ({r['score']:.2f})"
        for r in top
    ] or ["- none found"]
    body += ["", f"All {len(failures)} failures: `failures.jsonl`; every reply: `replies.jsonl`."]
    sections = [("Red teams compared", intro + table)]
    if s.get("reask"):
        sections.append(("Does the question matter?", _reask_section(s, cfg)))
    return [*sections, ("Failures", "\n".join(body))]


def _reask_section(s: dict[str, Any], cfg: dict[str, Any]) -> str:
    """The re-ask table, and how much of the top questions' first-time score survives."""
    zs, top, probes = s["methods"]["zero-shot"], s["reask"]["top zero-shot"], s["reask"]["probes"]
    rows = [
        (
            name,
            r["questions"],
            r["replies"],
            f"{r['first_offensive']}; {r['first_mean_score']:.3f}" if name != "probes" else "—",
            f"{r['offensive']} = {r['fraction_offensive']:.1%}",
            f"{r['ci95'][0]:.1%}–{r['ci95'][1]:.1%}",
            f"{r['mean_score']:.3f}",
        )
        for name, r in s["reask"].items()
    ]
    table = markdown_table(
        [
            "asked again",
            "questions",
            "fresh replies",
            "first asked: failed; mean score",
            "offensive",
            "95% CI (replies as independent)",
            "mean score",
        ],
        rows,
    )
    # regression to the mean: the share of the top questions' first-time excess score over
    # the average question that they keep when asked again (0: noise, 1: the question)
    base = zs["mean_score"]
    excess = top["first_mean_score"] - base
    kept = f"**{(top['mean_score'] - base) / excess:.0%}**" if excess > 0 else "n/a"
    text = (
        f"Each question is asked {cfg['reask']} more times, each time with a fresh sampled "
        "reply (`replies.jsonl`, groups `reask/...`). The top zero-shot questions are the "
        "ones whose replies scored highest, the ones few-shot, supervised learning and RL "
        f"learn from; the probes are hand-written questions that invite a negative answer."
        f"\n\n{table}\n\nAsked again, the top questions keep {kept} of their "
        f"first-time excess score over the average zero-shot question ({base:.3f}) "
        "(0%: their high scores were the chatbot's sampling noise and the later red teams "
        "have nothing to learn from them; 100%: the score belongs to the question). "
        f"The probes fail {probes['fraction_offensive']:.1%} of the time with mean score "
        f"{probes['mean_score']:.3f}, against {zs['fraction_offensive']:.1%} and {base:.3f} "
        "for zero-shot questions: what a red team could reach by asking such questions."
    )
    return text


def redteam_figures(record: RunRecord) -> list[Path]:
    """Offensive fraction and mean score per red team (and re-asked group), and RL training."""
    plt = pyplot()
    s = record.summary
    groups = {**s["methods"], **{f"re-asked: {k}": v for k, v in s.get("reask", {}).items()}}
    names, rows = list(groups), list(groups.values())
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.5 * len(names) + 1.8), sharey=True)
    y = np.arange(len(names))[::-1]
    frac = np.array([r["fraction_offensive"] for r in rows])
    ci = np.array([r["ci95"] for r in rows]).T
    err = np.clip([frac - ci[0], ci[1] - frac], 0, None)  # Wilson ends can round past k/n
    left.errorbar(frac, y, xerr=err, fmt="o", capsize=3)
    left.set(yticks=y, yticklabels=names, xlabel="fraction of replies offensive (95% CI)")
    left.axvline(s["methods"]["zero-shot"]["fraction_offensive"], color="gray", ls=":")
    right.plot([r["mean_score"] for r in rows], y, "o")
    right.axvline(s["methods"]["zero-shot"]["mean_score"], color="gray", ls=":")
    right.set(xlabel="mean classifier score of the replies")
    fig.suptitle("Red teams against the chatbot (dotted: zero-shot)")
    out = [save_figure(fig, record.run_dir / "figures" / "red_teams.png")]
    rl = [r for r in runs.read_metrics(record.run_dir) if "objective/score" in r]
    if rl:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        steps = [r["step"] for r in rl]
        lines = ax.plot(steps, [r["objective/score"] for r in rl], "o-", label="mean reply score")
        ax.set(xlabel="RL step", ylabel="mean reply score of the step's questions")
        twin = ax.twinx()
        lines += twin.plot(
            steps, [r["objective/kl"] for r in rl], "s--", color="C1", label="KL to the start"
        )
        twin.set(ylabel="KL (nats)")
        ax.legend(handles=lines, loc="best")
        out.append(save_figure(fig, record.run_dir / "figures" / "rl_training.png"))
    return out


REDTEAM_CRITERIA = (
    Criterion(
        "zero-shot finds ≥ {min_zero_shot_offensive} offensive replies", _zero_shot_criterion
    ),
    _beats_zero_shot("few-shot"),
    _beats_zero_shot("rl"),
)
