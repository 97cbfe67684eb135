"""Chapter 8's reports: the success criteria, the figures and the written sections of
`interp-mnist`, `induction-heads` and `induction-lm` (plain functions of a finished run)."""

from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch08_interpretability.mnist_study import case_study_text, feature_vis_text
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    at_most,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)

ANALYSIS_FILE = "analysis.pt"
METHOD_LABELS = {
    "saliency": "saliency",
    "gradient_x_input": "grad x input",
    "integrated_gradients": "integrated grad.",
    "occlusion": "occlusion",
}


def _analysis(record: RunRecord) -> dict[str, Any]:
    return torch.load(record.run_dir / ANALYSIS_FILE, weights_only=False)  # type: ignore[no-any-return]


def _out(record: RunRecord, name: str) -> Path:
    return record.run_dir / "figures" / name


def _show(ax: Any, image: torch.Tensor, title: str = "", signed: bool = False) -> None:
    image = image.squeeze().cpu()
    if signed:
        lim = float(image.abs().max()) or 1.0
        ax.imshow(image, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        ax.imshow(image, cmap="gray")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def interp_mnist_figures(record: RunRecord) -> list[Path]:
    """Attribution maps, deletion/insertion curves, randomisation, feature vis, case study."""
    plt = pyplot()
    a = _analysis(record)
    paths = []
    n = min(6, len(a["images"]))
    methods = list(a["maps"])
    fig, axes = plt.subplots(
        n, 1 + len(methods), figsize=(1.6 * (1 + len(methods)), 1.7 * n), squeeze=False
    )
    for i in range(n):
        _show(axes[i, 0], a["images"][i], f"label {int(a['labels'][i])}")
        for j, m in enumerate(methods):
            _show(
                axes[i, j + 1],
                a["maps"][m][i],
                METHOD_LABELS[m] if i == 0 else "",
                signed=m != "saliency",
            )
    fig.suptitle("Attributions for the true class (red: raises the logit)")
    paths.append(save_figure(fig, _out(record, "attributions.png")))

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, mode in zip(axes, ("deletion", "insertion"), strict=True):
        for name in [*methods, "random"]:
            curve = a["curves"][f"{mode}/{name}"]
            auc = record.summary[f"{mode}_auc/{name}"]
            ax.plot(
                torch.linspace(0, 1, len(curve)),
                curve,
                ls="--" if name == "random" else "-",
                label=f"{METHOD_LABELS.get(name, name)} (AUC {auc:.3f})",
            )
        better = "lower" if mode == "deletion" else "higher"
        ax.set(
            xlabel=f"fraction of pixels {'removed' if mode == 'deletion' else 'restored'}",
            ylabel="p(true class)",
            title=f"{mode.capitalize()} ({better} AUC is better)",
        )
        ax.legend(fontsize=7)
    paths.append(save_figure(fig, _out(record, "deletion_insertion.png")))

    rows = record.summary["randomisation_rows"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for m in methods:
        ax.plot(range(1, len(rows) + 1), [r[m] for r in rows], marker="o", label=METHOD_LABELS[m])
    ax.set_xticks(
        range(1, len(rows) + 1), [r["randomised"].split("+")[-1] for r in rows], fontsize=7
    )
    ax.set(
        xlabel="layers re-initialised, from the top down (cumulative)",
        ylabel="rank corr. with trained model",
        title="Model-randomisation sanity check",
        ylim=(-0.1, 1.05),
    )
    ax.legend(fontsize=7)
    paths.append(save_figure(fig, _out(record, "randomisation.png")))

    vis = a["vis"]
    fig, axes = plt.subplots(3, 10, figsize=(13, 4.2))
    for d in range(10):
        _show(axes[0, d], a["class_means"][d], f"mean {d}")
        _show(axes[1, d], vis["logits_plain"][d], f"plain {d}")
        _show(axes[2, d], vis["logits_regularised"][d], f"regularised {d}")
    fig.suptitle("Feature visualisation of the 10 logits (top: mean test image)")
    paths.append(save_figure(fig, _out(record, "feature_vis_logits.png")))
    channels = vis["channels"]
    fig, axes = plt.subplots(1, len(channels), figsize=(1.3 * len(channels), 1.6), squeeze=False)
    for k, image in enumerate(channels):
        _show(axes[0, k], image, f"ch {k}")
    fig.suptitle("Last conv layer channels, regularised feature visualisation")
    paths.append(save_figure(fig, _out(record, "feature_vis_channels.png")))

    case, s = a["case"], record.summary
    k = len(s["case_channels"])
    fig, axes = plt.subplots(k, 7, figsize=(11, 1.7 * k), squeeze=False)
    for i, ch in enumerate(s["case_channels"]):
        _show(axes[i, 0], case["case_vis"][i], f"channel {ch}: vis")
        for j in range(6):
            _show(
                axes[i, j + 1],
                case["case_examples"][i, j],
                f"label {s['case_strongest_labels'][i][j]}",
            )
    fig.suptitle(f"Case study: the channels behind the logit of digit {s['case_digit']}")
    paths.append(save_figure(fig, _out(record, "case_study.png")))
    return paths


def _heatmap(ax: Any, scores: torch.Tensor, title: str) -> None:
    image = ax.imshow(scores.T.cpu(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set(xlabel="layer", ylabel="head", title=title)
    ax.figure.colorbar(image, ax=ax)


def induction_heads_figures(record: RunRecord) -> list[Path]:
    """Training curves, score heatmaps, attention patterns, loss by position with ablations."""
    plt = pyplot()
    a, s = _analysis(record), record.summary
    paths = []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(*record.series("induction/best_score"), marker="o", label="best induction score")
    ax1.plot(*record.series("induction/best_prev_token_score"), marker="o", label="best prev-token")
    ax1.set(xlabel="step", ylabel="score", title="Head scores during training")
    ax1.legend()
    ax2.plot(*record.series("repeat/first_half_loss"), label="random tokens, 1st copy")
    ax2.plot(*record.series("repeat/second_half_loss"), label="random tokens, 2nd copy")
    ax2.plot(*record.series("eval/loss"), label="Shakespeare validation")
    ax2.set(xlabel="step", ylabel="loss (nats)", title="Loss")
    ax2.legend()
    paths.append(save_figure(fig, _out(record, "training.png")))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
    _heatmap(ax1, a["induction"], "Induction (prefix-matching) score")
    _heatmap(ax2, a["previous"], "Previous-token score")
    paths.append(save_figure(fig, _out(record, "head_scores.png")))

    ind, prev = s["best_induction_head"], s["ablate_prev_token_heads"][0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, (layer, head), name in ((axes[0], ind, "induction"), (axes[1], prev, "previous-token")):
        ax.imshow(a["patterns"][layer][head].cpu(), cmap="Blues", vmin=0, vmax=1)
        ax.set(
            title=f"head {layer}.{head} ({name})",
            xlabel="key position",
            ylabel="query position",
        )
    fig.suptitle("Attention on random tokens repeated twice")
    paths.append(save_figure(fig, _out(record, "attention_patterns.png")))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    ax1.plot(a["probe_loss"].cpu(), label="clean", lw=1)
    for name, loss in a["ablations"].items():
        ax1.plot(loss.cpu(), label=f"{name} heads ablated", lw=1)
    ax1.set(xlabel="position", ylabel="loss (nats)", title="Repeated random tokens")
    ax1.legend(fontsize=7)
    ax2.plot(range(1, len(a["val_loss"]) + 1), a["val_loss"].cpu())
    ax2.set(
        xscale="log",
        xlabel="token index",
        ylabel="loss (nats)",
        title=f"Shakespeare loss by position (ICL score {s['icl_score']:+.2f})",
    )
    paths.append(save_figure(fig, _out(record, "loss_by_position.png")))
    return paths


def induction_lm_figures(record: RunRecord) -> list[Path]:
    """Score heatmaps, the top heads' attention patterns and the loss by position."""
    plt = pyplot()
    a = _analysis(record)
    paths = []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
    _heatmap(ax1, a["induction"], "Induction (prefix-matching) score")
    _heatmap(ax2, a["previous"], "Previous-token score")
    paths.append(save_figure(fig, _out(record, "head_scores.png")))
    heads = a["best_heads"]
    fig, axes = plt.subplots(1, len(heads) + 1, figsize=(3.3 * (len(heads) + 1), 3.3))
    for ax, pattern, (layer, head) in zip(axes[:-1], a["best_patterns"], heads, strict=True):
        ax.imshow(pattern.cpu(), cmap="Blues", vmin=0, vmax=1)
        ax.set(title=f"head {layer}.{head}", xlabel="key", ylabel="query")
    axes[-1].plot(a["loss"].cpu())
    axes[-1].set(xlabel="position", ylabel="loss (nats)", title="loss on repeated tokens")
    paths.append(save_figure(fig, _out(record, "top_heads.png")))
    return paths


METHODS = ("saliency", "gradient_x_input", "integrated_gradients", "occlusion")


# ------------------------------------------------------------------------------ interp-mnist


def _deletion_beats_random(r: RunRecord) -> Verdict:
    ig, rnd = r.summary["deletion_auc/integrated_gradients"], r.summary["deletion_auc/random"]
    gap = rnd - ig
    return Verdict(
        bool(gap >= r.config["min_auc_gap"]), f"IG {ig:.3f} vs random {rnd:.3f} (gap {gap:.3f})"
    )


def _insertion_beats_random(r: RunRecord) -> Verdict:
    ig, rnd = r.summary["insertion_auc/integrated_gradients"], r.summary["insertion_auc/random"]
    gap = ig - rnd
    return Verdict(
        bool(gap >= r.config["min_auc_gap"]), f"IG {ig:.3f} vs random {rnd:.3f} (gap {gap:.3f})"
    )


def interp_mnist_sections(r: RunRecord) -> list[tuple[str, str]]:
    s = r.summary
    rows = [
        (
            m,
            f"{s[f'deletion_auc/{m}']:.3f}",
            f"{s[f'insertion_auc/{m}']:.3f}",
            f"{s.get(f'randomised_rank_corr/{m}', float('nan')):.2f}",
        )
        for m in (*METHODS, "random")
    ]
    table = markdown_table(
        [
            "order",
            "deletion AUC (lower better)",
            "insertion AUC (higher better)",
            "rank corr. after full randomisation",
        ],
        rows,
    )
    summary = (
        f"- CNN test accuracy {s['test_accuracy']:.2%}.\n"
        f"- Integrated gradients completeness: mean error {s['ig_completeness_mean_error']:.3%}, "
        f"worst {s['ig_completeness_max_error']:.3%} ({r.config['ig_steps']} steps).\n\n"
        f"{table}\n\n"
        "Gradient x input and integrated gradients multiply by the pixel, so their maps keep "
        "the digit's shape even for a random model; the rank correlation is measured over the "
        "stroke pixels only, where the weights must decide the ordering."
    )
    return [
        ("Attribution and faithfulness", summary),
        ("Feature visualisation: when it fails on MNIST", feature_vis_text(s)),
        (f"Case study: the logit of digit {s['case_digit']}", case_study_text(s)),
    ]


INTERP_MNIST_CRITERIA = (
    at_most(
        "integrated gradients' completeness error |sum - (f(x) - f(0))| / |f(x) - f(0)|, "
        "worst image",
        "ig_completeness_max_error",
        "max_completeness_error",
        "{:.2%}",
    ),
    Criterion(
        "deletion AUC: IG order at least {min_auc_gap:g} below a random order",
        _deletion_beats_random,
    ),
    Criterion(
        "insertion AUC: IG order at least {min_auc_gap:g} above a random order",
        _insertion_beats_random,
    ),
    at_most(
        "IG's rank correlation (stroke pixels) with that of a fully randomised model",
        "randomised_rank_corr/integrated_gradients",
        "max_randomised_corr",
        "{:.2f}",
    ),
)


# --------------------------------------------------------------------------- induction-heads


def _induction_head(r: RunRecord) -> Verdict:
    best, (layer, head) = r.summary["best_induction_score"], r.summary["best_induction_head"]
    return Verdict(
        bool(best >= r.config["induction_threshold"]), f"{best:.3f} (head {layer}.{head})"
    )


def _ablation_rise(r: RunRecord) -> Verdict:
    s = r.summary
    if not s["detected_induction_heads"]:
        # the run then ablates its best head, which is not an induction head: no verdict
        return not_measured("no head reached induction_threshold, so none was ablated as one")
    rise = s["ablation_loss_rise"]
    control = s["ablate_control_second_half_loss"] - s["repeat_second_half_loss"]
    return Verdict(
        bool(rise >= r.config["min_ablation_rise"] and rise > control),
        f"{rise:+.2f} nats (as many low-scoring heads: {control:+.2f})",
    )


def induction_heads_sections(r: RunRecord) -> list[tuple[str, str]]:
    s = r.summary
    n_layers, n_heads = len(s["induction_scores"]), len(s["induction_scores"][0])
    rows = [
        (f"{la}.{h}", f"{s['induction_scores'][la][h]:.3f}", f"{s['prev_token_scores'][la][h]:.3f}")
        for la in range(n_layers)
        for h in range(n_heads)
    ]
    fmt = ", ".join
    text = (
        f"{markdown_table(['head', 'induction score', 'previous-token score'], rows)}\n\n"
        f"On {r.config['n_probe']} sequences of {r.config['half_len']} random tokens repeated "
        f"twice, the loss is {s['repeat_first_half_loss']:.2f} nats on the first copy and "
        f"{s['repeat_second_half_loss']:.2f} on the second. Ablating the induction head(s) "
        f"{fmt(f'{a}.{b}' for a, b in s['ablate_induction_heads'])} raises the second copy's "
        f"loss to {s['ablate_induction_second_half_loss']:.2f}; ablating the strongest "
        f"previous-token head of layer 0 "
        f"({fmt(f'{a}.{b}' for a, b in s['ablate_prev_token_heads'])}) "
        f"gives {s['ablate_prev_token_second_half_loss']:.2f} (K-composition: the induction "
        f"head finds its target through what this head wrote); ablating as many low-scoring "
        f"heads gives {s['ablate_control_second_half_loss']:.2f}.\n\n"
        f"In-context learning score on Shakespeare (loss at token {s['icl_positions'][0]} minus "
        f"at token {s['icl_positions'][1]}): {s['icl_score']:+.3f} nats; validation loss "
        f"{s['val_loss']:.3f}."
    )
    return [("Heads and ablations", text)]


INDUCTION_HEADS_CRITERIA = (
    Criterion("the best head's induction score ≥ {induction_threshold:g}", _induction_head),
    Criterion(
        "ablating the induction heads raises the second copy's loss by ≥ "
        "{min_ablation_rise:g} nats, and more than ablating as many low-scoring heads",
        _ablation_rise,
    ),
)


# ----------------------------------------------------------------------------- induction-lm


def _lm_top_head(r: RunRecord) -> Verdict:
    layer, head, score = r.summary["top_heads"][0]
    return Verdict(bool(score >= r.config["min_top_score"]), f"{score:.3f} (head {layer}.{head})")


def _lm_copies(r: RunRecord) -> Verdict:
    first, second = r.summary["repeat_first_half_loss"], r.summary["repeat_second_half_loss"]
    gain = first - second
    return Verdict(
        bool(gain >= r.config["min_copy_gain"]), f"{first:.2f} -> {second:.2f} nats ({gain:+.2f})"
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
    return [("Top induction heads", text)]


INDUCTION_LM_CRITERIA = (
    Criterion("the best head's induction score ≥ {min_top_score:g}", _lm_top_head),
    Criterion(
        "the second copy of random tokens is predicted ≥ {min_copy_gain:g} nats better "
        "than the first",
        _lm_copies,
    ),
)
