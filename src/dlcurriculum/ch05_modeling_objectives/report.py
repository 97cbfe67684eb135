"""The report of `dlc run contrastive`: accuracy table, loss curves, embedding maps, neighbours.

The run saves a small view file per objective (2-D coordinates and example images), so
the figures are redrawn from the run folder alone.
"""

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    at_least,
    at_most,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)
from dlcurriculum.core.runs import atomic_open

N_MAP, N_EXAMPLES = 2000, 8


def save_views(
    run_dir: Path,
    objective: str,
    test_z: Tensor,
    test_y: Tensor,
    support_z: Tensor,
    test_x: Tensor,
    support: Tensor,
    rule: Callable[..., Tensor],
) -> None:
    """Write views/<objective>.pt: PCA of test embeddings and nearest-neighbour examples.

    PCA (not t-SNE): it is deterministic, takes milliseconds and needs no extra package;
    it shows less separation than t-SNE would, so clusters that look apart here really are.
    """
    test_z, test_y, support_z, test_x, support = (
        t.cpu() for t in (test_z, test_y, support_z, test_x, support)
    )
    z = F.normalize(test_z[:N_MAP], dim=1)
    _, _, v = torch.pca_lowrank(z, q=2, center=True)
    coords = (z - z.mean(0)) @ v[:, :2]
    k = min(10, support_z.shape[1])
    s = support_z[:, :k].flatten(0, 1)
    s_labels = torch.arange(support_z.shape[0]).repeat_interleave(k)
    pred = rule(test_z, s, s_labels, support_z.shape[0])
    nearest = (F.normalize(test_z, dim=1) @ F.normalize(s, dim=1).T).argmax(1)
    right = (pred == test_y).nonzero().squeeze(1)[:N_EXAMPLES]
    wrong = (pred != test_y).nonzero().squeeze(1)[:N_EXAMPLES]
    picked = torch.cat([right, wrong])
    views = {
        "coords": coords,
        "labels": test_y[:N_MAP],
        "query": test_x[picked, 0],
        "neighbour": support[:, :k].flatten(0, 1)[nearest[picked], 0],
        "true": test_y[picked],
        "pred": pred[picked],
        "n_right": len(right),
    }
    with atomic_open(run_dir / "views" / f"{objective}.pt", "wb") as f:
        torch.save(views, f)


def contrastive_figures(record: RunRecord) -> list[Path]:
    """Loss curves, a PCA map per objective and nearest-neighbour examples."""
    plt = pyplot()
    out = []
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for objective in record.config["objectives"]:
        steps, loss = record.series(f"losses/{objective}")
        if steps:
            ax.plot([s - steps[0] for s in steps], loss, label=objective)
    ax.set(xlabel="optimizer step (per objective)", ylabel="training loss", title="Loss")
    ax.legend()
    out.append(save_figure(fig, record.run_dir / "figures" / "loss.png"))
    found = [
        (o, torch.load(record.run_dir / "views" / f"{o}.pt"))
        for o in record.config["objectives"]
        if (record.run_dir / "views" / f"{o}.pt").exists()
    ]
    if not found:
        return out
    fig, axes = plt.subplots(1, len(found), figsize=(4.5 * len(found), 4), squeeze=False)
    for ax, (objective, v) in zip(axes[0], found, strict=True):
        sc = ax.scatter(*v["coords"].T, c=v["labels"], cmap="tab10", s=3, vmin=-0.5, vmax=9.5)
        ax.set(title=f"{objective}: PCA of test embeddings", xticks=[], yticks=[])
    fig.colorbar(sc, ax=axes[0].tolist(), ticks=range(10), label="digit")
    out.append(save_figure(fig, record.run_dir / "figures" / "embedding_pca.png"))
    for objective, v in found:
        n = len(v["query"])
        fig, axes = plt.subplots(2, n, figsize=(1.1 * n, 2.6), squeeze=False)
        for j in range(n):
            for row, key in enumerate(("query", "neighbour")):
                axes[row, j].imshow(v[key][j], cmap="gray_r")
                axes[row, j].set(xticks=[], yticks=[])
            colour = "green" if j < v["n_right"] else "red"
            title = f"{int(v['true'][j])}→{int(v['pred'][j])}"
            axes[0, j].set_title(title, color=colour, fontsize=8)
        axes[0, 0].set_ylabel("query", fontsize=8)
        axes[1, 0].set_ylabel("nearest\nsupport", fontsize=8)
        fig.suptitle(f"{objective}: true→predicted (green right, red wrong), k = 10", fontsize=9)
        out.append(save_figure(fig, record.run_dir / "figures" / f"neighbours_{objective}.png"))
    return out


def contrastive_sections(record: RunRecord) -> list[tuple[str, str]]:
    """The accuracy tables, test and validation: one row per method, one column per k."""
    ks = [str(k) for k in record.config["ks"]]

    def table(acc: dict[str, dict[str, float]]) -> str:
        rows = [[name] + [f"{100 * row[k]:.1f}" for k in ks] for name, row in acc.items()]
        return markdown_table(["method \\ k per class", *ks], rows)

    times = ", ".join(f"{o} {t:.0f} s" for o, t in record.summary["train_time_s"].items())
    body = (
        "Test accuracy (%) of each method with k labelled support examples per class "
        "(removed from the training set before training). Contrastive rows use the "
        "exercise's rule: mean cosine similarity to each class's support examples. The "
        "criteria read this table; compare settings on the validation table below.\n\n"
        f"{table(record.summary['accuracy'])}\n\nTraining time: {times}; "
        f"{record.summary['steps']} optimizer steps in all."
    )
    sections = [("Few-shot accuracy", body)]
    val = record.summary.get("validation")
    if val:
        sections.append(
            (
                "Validation accuracy",
                f"The same rule on {record.config['val_size']} validation queries (the last "
                "training images, never trained on), in both embedding spaces (`projection`). "
                "Choose settings (temperature, augmentation, `projection`) by this table; the "
                f"test figures are read once, for the criteria.\n\n{table(val)}",
            )
        )
    return sections


def _above_pixels(record: RunRecord) -> Verdict:
    """SimCLR and SupCon each beat raw pixels by the margin; N/A unless both were trained."""
    acc = record.summary["accuracy"]
    missing = [o for o in ("simclr", "supcon") if o not in acc]
    if missing:
        return not_measured(f"{' and '.join(missing)} not trained in this run (objectives)")
    floor = acc["raw pixels"]["10"]
    margins = {o: acc[o]["10"] - floor for o in ("simclr", "supcon")}
    return Verdict(
        min(margins.values()) >= record.config["margin_over_pixels"],
        ", ".join(f"{o} {100 * m:+.1f} points" for o, m in margins.items())
        + f" over raw pixels ({floor:.1%})",
    )


BUDGET = "wall time of the run ≤ time_budget_s = {time_budget_s:.0f} s (0 = no budget)"


def in_budget(record: RunRecord) -> Verdict:
    """Wall time within time_budget_s; N/A when the config sets no budget (0)."""
    wall, budget = record.summary["wall_time_s"], record.config["time_budget_s"]
    if not budget:
        return not_measured(f"no time budget set (--set time_budget_s=...); took {wall:.0f} s")
    return Verdict(wall <= budget, f"{wall:.0f} s")


CONTRASTIVE_CRITERIA = (
    at_least(
        "SimCLR (no labels) few-shot test accuracy at k = 10",
        "accuracy.simclr.10",
        "target_simclr",
        "{:.2%}",
    ),
    at_least(
        "SupCon few-shot test accuracy at k = 10",
        "accuracy.supcon.10",
        "target_supcon",
        "{:.2%}",
    ),
    Criterion(
        "SimCLR and SupCon each beat raw-pixel similarity (test, k = 10) by ≥ "
        "{margin_over_pixels:.1%} (absolute)",
        _above_pixels,
    ),
    Criterion(BUDGET, in_budget),
)


def _untrusted_judge(record: RunRecord) -> Verdict | None:
    """N/A when the judging CNN is too weak for its view of the samples to mean anything."""
    accuracy, bar = record.summary["scores"]["judge_accuracy"], record.config["min_judge_accuracy"]
    if accuracy < bar:
        return not_measured(
            f"the judging CNN reaches {accuracy:.1%} on test digits, below "
            f"min_judge_accuracy {bar:.0%} (raise classifier_steps)"
        )
    return None


def _samples_judged(record: RunRecord) -> Verdict:
    untrusted = _untrusted_judge(record)
    if untrusted is not None:
        return untrusted
    s = record.summary["scores"]["samples"]
    return Verdict(
        s["coverage"] >= record.config["target_coverage"],
        f"{s['coverage']} of 10 digits; judge's confidence {s['confidence']:.2f}",
    )


def _frechet(record: RunRecord) -> Verdict:
    untrusted = _untrusted_judge(record)
    if untrusted is not None:
        return untrusted
    scores = record.summary["scores"]
    ratio = scores["samples"]["frechet"] / scores["pixel noise"]["frechet"]
    return Verdict(
        ratio <= record.config["max_frechet_ratio"],
        f"{scores['samples']['frechet']:.2f} = {ratio:.1%} of pixel noise's "
        f"{scores['pixel noise']['frechet']:.2f} (real images "
        f"{scores['real test images']['frechet']:.2f})",
    )


COVERAGE = "digits making up ≥ 2% of the samples (judged by a CNN) ≥ {target_coverage}"
FRECHET = "Frechet distance of samples to real digits ≤ {max_frechet_ratio:.0%} of pixel noise's"


VAE_CRITERIA = (
    at_least("test ELBO (nats per image)", "test.elbo", "target_elbo", "{:.1f}"),
    Criterion("prior samples: " + COVERAGE, _samples_judged),
    Criterion("prior samples: " + FRECHET, _frechet),
    Criterion(BUDGET, in_budget),
)


DDPM_CRITERIA = (
    at_most("held-out (test) noise-prediction MSE", "test.noise_mse", "target_test_loss", "{:.4f}"),
    Criterion(COVERAGE, _samples_judged),
    Criterion(FRECHET, _frechet),
    Criterion(BUDGET, in_budget),
)
