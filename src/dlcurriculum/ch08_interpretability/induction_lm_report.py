"""The report of `induction-lm`: criteria, figures and sections, patching included."""

from pathlib import Path

from dlcurriculum.ch08_interpretability.induction_report import analysis, heatmap, out
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)


def induction_lm_figures(record: RunRecord) -> list[Path]:
    """Score heatmaps, the top heads' attention patterns and the loss by position; the
    recovery as more top induction heads are patched."""
    plt = pyplot()
    a = analysis(record)
    paths = []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
    heatmap(ax1, a["induction"], "Induction (prefix-matching) score")
    heatmap(ax2, a["previous"], "Previous-token score")
    paths.append(save_figure(fig, out(record, "head_scores.png")))
    heads = a["best_heads"]
    fig, axes = plt.subplots(1, len(heads) + 1, figsize=(3.3 * (len(heads) + 1), 3.3))
    for ax, pattern, (layer, head) in zip(axes[:-1], a["best_patterns"], heads, strict=True):
        ax.imshow(pattern.cpu(), cmap="Blues", vmin=0, vmax=1)
        ax.set(title=f"head {layer}.{head}", xlabel="key", ylabel="query")
    axes[-1].plot(a["loss"].cpu())
    axes[-1].set(xlabel="position", ylabel="loss (nats)", title="loss on repeated tokens")
    paths.append(save_figure(fig, out(record, "top_heads.png")))
    s = record.summary
    if "patch_cumulative_recovery" in s:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        curve = s["patch_cumulative_recovery"]
        names = [f"{la}.{h}" for la, h in s["patch_top_heads"]]
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label="top induction heads")
        ax.axhline(s["patch_control_recovery"], color="grey", ls="--", label="as many random")
        ax.set_xticks(range(1, len(curve) + 1), [f"+{n}" for n in names], rotation=60, fontsize=7)
        ax.set(xlabel="heads patched (cumulative)", ylabel="recovery", ylim=(-0.2, 1.05))
        ax.set_title("Clean outputs of the top induction heads patched in", fontsize=10)
        ax.legend(fontsize=7)
        paths.append(save_figure(fig, out(record, "patching.png")))
    return paths


def _lm_top_head(r: RunRecord) -> Verdict:
    layer, head, score = r.summary["top_heads"][0]
    return Verdict(bool(score >= r.config["min_top_score"]), f"{score:.3f} (head {layer}.{head})")


def _lm_copies(r: RunRecord) -> Verdict:
    first, second = r.summary["repeat_first_half_loss"], r.summary["repeat_second_half_loss"]
    gain = first - second
    return Verdict(
        bool(gain >= r.config["min_copy_gain"]), f"{first:.2f} -> {second:.2f} nats ({gain:+.2f})"
    )


MIN_GAP = 1.0
"""Logits: below this clean-minus-corrupted logit difference the model barely prefers the
repeat's token (a random model), and recoveries, divided by the gap, are noise."""


def _lm_patching(r: RunRecord) -> Verdict:
    s = r.summary
    if r.config.get("patch_heads", 0) == 0:
        return not_measured("patch_heads=0: no head was patched")
    gap = s["patch_clean_logit_diff"] - s["patch_corrupted_logit_diff"]
    if gap < MIN_GAP:
        return not_measured(
            f"the clean run prefers the repeat's token by only {gap:.2f} logits over the "
            f"corrupted run (< {MIN_GAP:g}): nothing to recover"
        )
    got, control = s["patch_cumulative_recovery"][-1], s["patch_control_recovery"]
    return Verdict(
        bool(got >= r.config["min_patch_recovery"] and got > control),
        f"{got:.2f} (as many random heads: {control:+.2f})",
    )


def _patching_text(s: dict) -> str:
    if "patch_cumulative_recovery" not in s:
        return "Not run (`patch_heads=0`)."
    steps = ", ".join(
        f"{la}.{h}: {v:.2f}"
        for (la, h), v in zip(s["patch_top_heads"], s["patch_cumulative_recovery"], strict=True)
    )
    prev = ", ".join(f"{la}.{h}" for la, h in s["patch_prev_token_heads"]) or "none"
    return (
        "Clean run: the probe; corrupted run: its first copy redrawn. Logit difference (the "
        "repeat's next token minus the one the corrupted first copy would supply) "
        f"{s['patch_clean_logit_diff']:.2f} clean, {s['patch_corrupted_logit_diff']:.2f} "
        "corrupted. Recovery as the top induction heads are patched in, one more at a time "
        f"(all positions): {steps}. As many random heads: {s['patch_control_recovery']:+.2f}. "
        f"The top previous-token heads below them ({prev}), patched only at the first copy: "
        f"{s['patch_prev_token_first_copy_recovery']:+.2f} (below 0 means the induction "
        "heads then find the right position and copy the corrupted token that sits there)."
    )


def induction_lm_sections(r: RunRecord) -> list[tuple[str, str]]:
    s = r.summary
    rows = [(i + 1, f"{la}.{h}", f"{sc:.3f}") for i, (la, h, sc) in enumerate(s["top_heads"])]
    prev = ", ".join(f"{la}.{h} ({sc:.2f})" for la, h, sc in s["top_prev_token_heads"][:5])
    text = (
        f"`{s['model']}` ({s['class']}, {s['n_layers']} layers x {s['n_heads']} heads); "
        f"{s['heads_above_0.5']} heads score at least 0.5.\n\n"
        f"{markdown_table(['rank', 'layer.head', 'induction score'], rows)}\n\n"
        f"Strongest previous-token heads: {prev}. For GPT-2 small (`--set model=gpt2`) the "
        "literature's induction heads are 5.1, 5.5, 6.9, 7.2 and 7.10 (Olsson et al. 2022; "
        "Wang et al. 2022)."
    )
    return [("Top induction heads", text), ("Activation patching", _patching_text(s))]


INDUCTION_LM_CRITERIA = (
    Criterion("the best head's induction score ≥ {min_top_score:g}", _lm_top_head),
    Criterion(
        "the second copy of random tokens is predicted ≥ {min_copy_gain:g} nats better "
        "than the first",
        _lm_copies,
    ),
    Criterion(
        "patching the top {patch_heads} induction heads recovers ≥ {min_patch_recovery:g} of "
        "the logit difference, more than as many random heads",
        _lm_patching,
    ),
)
