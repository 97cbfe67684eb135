"""The chapter's report figures, drawn from a run folder alone (summary.json + analysis.pt)."""

from pathlib import Path
from typing import Any

import torch

from dlcurriculum.core.report import RunRecord, pyplot, save_figure

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


def induction_figures(record: RunRecord) -> list[Path]:
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
