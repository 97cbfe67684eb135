"""The reports of the extras (`dlc run vae`, `dlc run ddpm`): loss, samples, judged scores.

Figures are redrawn from the run folder alone (views/samples.pt holds the images shown).
"""

from pathlib import Path

import torch

from dlcurriculum.core.report import RunRecord, markdown_table, pyplot, save_figure


def generative_figures(record: RunRecord) -> list[Path]:
    """Loss curves and sample grids, redrawn from the run folder."""
    plt = pyplot()
    out, fig_dir = [], record.run_dir / "figures"
    keys = ["losses/elbo", "losses/kl"] if "latent" in record.config else ["losses/noise_mse"]
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        ax.plot(*record.series(key))
        ax.set(xlabel="optimizer step", ylabel=key.split("/")[1], title=key)
        if key == "losses/noise_mse":
            ax.set_yscale("log")
    out.append(save_figure(fig, fig_dir / "loss.png"))
    path = record.run_dir / "views" / "samples.pt"
    if not path.exists():
        return out
    views = torch.load(path)
    s = views["samples"]
    cols = 8
    fig, axes = plt.subplots(len(s) // cols, cols, figsize=(cols, len(s) // cols))
    for ax, img in zip(axes.flat, s, strict=False):
        ax.imshow(img[0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_axis_off()
    fig.suptitle(f"{record.config['experiment']}: random samples (not cherry-picked)")
    out.append(save_figure(fig, fig_dir / "samples.png"))
    if "recon" in views:
        rows, title = [views["real"], views["recon"]], "test images (top) and reconstructions"
        labels = None
    else:
        rows = list(views["noised"].transpose(0, 1))  # one row per step t
        title, labels = (
            "forward process q(x_t | x_0)",
            [f"t={t}" for t in views["noised_t"].tolist()],
        )
    fig, axes = plt.subplots(len(rows), len(rows[0]), figsize=(len(rows[0]), 1.1 * len(rows)))
    for r, row in enumerate(rows):
        for j, img in enumerate(row):
            axes[r, j].imshow(img[0], cmap="gray_r", vmin=0, vmax=1)
            axes[r, j].set(xticks=[], yticks=[])
        if labels:
            axes[r, 0].set_ylabel(labels[r], fontsize=8)
    fig.suptitle(title, fontsize=9)
    out.append(
        save_figure(fig, fig_dir / ("reconstructions.png" if labels is None else "noising.png"))
    )
    return out


def generative_sections(record: RunRecord) -> list[tuple[str, str]]:
    """Held-out objective and the judge's scores of samples vs the two yardsticks."""
    scores = record.summary["scores"]
    rows = [
        [name, f"{s['confidence']:.3f}", s["coverage"], f"{s['frechet']:.2f}"]
        for name, s in scores.items()
        if isinstance(s, dict)
    ]
    table = markdown_table(
        ["images", "judge confidence", "digits covered", "Frechet distance"], rows
    )
    test = ", ".join(f"{k} {v:.4g}" for k, v in record.summary["test"].items())
    body = (
        "*An extra, not the chapter's exercise.* Held-out objective (test set): "
        f"{test}.\n\nThe judge is chapter 0's CNN trained for {record.config['classifier_steps']} "
        f"steps ({scores['judge_accuracy']:.1%} on 2000 test images). Frechet distance of its "
        "features to 2000 real test images: held-out real images are the floor, pixel noise "
        f"(independent pixels with the mean ink) the ceiling.\n\n{table}"
    )
    return [("Samples, judged", body)]
