"""The report of `interp-mnist`: its success criteria, figures and written sections (plain
functions of a finished run); those of `induction-heads` and `induction-lm` are in
induction_report.py."""

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
