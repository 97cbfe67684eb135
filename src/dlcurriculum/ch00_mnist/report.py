"""The prerequisite's reports: the criteria, figures and tables of `mnist` and `regularization`."""

from pathlib import Path

from dlcurriculum.ch00_mnist.config import MIN_SEEDS
from dlcurriculum.ch00_mnist.regularization_experiment import choose_on_validation, gain_on_test
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    at_least,
    markdown_table,
    not_measured,
    pyplot,
    save_figure,
)


def mnist_figures(record: RunRecord) -> list[Path]:
    plt = pyplot()
    s = record.summary
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(*record.series("losses/train"), label="train (running mean)")
    val_steps, val_loss = record.series("val/loss")
    if val_steps:
        ax1.plot(val_steps, val_loss, marker="o", label="validation")
    ax1.plot([s["steps"]], [s["test_loss"]], "k*", ms=10, label="test (once, at the end)")
    ax1.set(xlabel="optimizer step", ylabel="cross-entropy", yscale="log", title="Loss")
    ax1.legend()
    _, val_acc = record.series("val/accuracy")
    if val_steps:
        ax2.plot(val_steps, [100 * a for a in val_acc], marker="o", label="validation")
    acc = [*val_acc, s["test_accuracy"]]
    ax2.plot([s["steps"]], [100 * s["test_accuracy"]], "k*", ms=10, label="test (once)")
    ax2.axhline(100 * record.config["target_accuracy"], color="gray", ls="--", label="target")
    ax2.set(
        xlabel="optimizer step",
        ylabel="accuracy (%)",
        # zoom on the last percents, but keep the test point in view
        ylim=(min(max(90, 100 * min(acc) - 1), 100 * s["test_accuracy"] - 1), 100),
        title="Validation accuracy during training",
    )
    ax2.legend()
    fig.tight_layout()
    return [save_figure(fig, record.run_dir / "figures" / "training.png")]


def mnist_sections(record: RunRecord) -> list[tuple[str, str]]:
    s, cfg = record.summary, record.config
    reached = s.get("time_to_target_s")
    lines = [
        f"- Parameters: {s['parameters']:,}; device: {s['device']}.",
        f"- Data: trained on the first {cfg['train_size']:,} training images; the last "
        f"{cfg.get('val_size', 0):,} are the validation split; {cfg['test_size']:,} test images.",
        f"- {s['steps']} optimizer steps ({s['epochs_run']:.2f} epochs) in "
        f"{s['train_time_s']:.1f} s of training (evaluation excluded).",
    ]
    if "val_accuracy" in s:
        lines += [
            f"- Validation loss {s['val_loss']:.4f}, validation accuracy {s['val_accuracy']:.2%}.",
            "- Validation accuracy "
            + (
                f"first reached the target after {reached:.1f} s of training."
                if reached is not None
                else "never reached the target."
            ),
        ]
    lines.append(
        f"- Test loss {s['test_loss']:.4f}, test accuracy {s['test_accuracy']:.2%} "
        "(the test split is evaluated once, after training)."
    )
    return [("Results", "\n".join(lines))]


MNIST_CRITERIA = (at_least("test accuracy", "test_accuracy", "target_accuracy", "{:.2%}"),)


def _complete(record: RunRecord) -> Verdict:
    cfg = record.config
    expected = len(cfg["conditions"]) * len(cfg["train_sizes"]) * cfg["seeds"]
    n = record.summary["cells"]
    return Verdict(
        n == expected and cfg["seeds"] >= MIN_SEEDS,
        f"{n}/{expected} runs, {cfg['seeds']} seeds each",
    )


def _helps_small(record: RunRecord) -> Verdict:
    table, z = record.summary["table"], record.config["min_z"]
    small = min(table, key=int)
    chosen = choose_on_validation(table[small])
    gain, se = gain_on_test(table[small], chosen)
    return Verdict(
        gain > z * se,
        f"{chosen} (chosen on validation): {100 * gain:+.2f} ± {100 * se:.2f} (SE) test points "
        f"on n={small}, {gain / se if se else float('inf'):.1f} SE",
    )


def _matters_more_when_small(record: RunRecord) -> Verdict:
    table, z = record.summary["table"], record.config["min_z"]
    sizes = sorted(table, key=int)
    if len(sizes) < 2:
        return not_measured("the run has a single training-set size; it needs two")
    gains = {n: gain_on_test(table[n], choose_on_validation(table[n])) for n in sizes}
    (g_small, se_small), (g_large, se_large) = gains[sizes[0]], gains[sizes[-1]]
    diff, se = g_small - g_large, (se_small**2 + se_large**2) ** 0.5
    text = ", ".join(
        f"n={n}: {choose_on_validation(table[n])} {100 * g:+.2f} ± {100 * e:.2f}"
        for n, (g, e) in gains.items()
    )
    return Verdict(
        diff > z * se,
        f"test gain (points ± SE) {text}; difference {100 * diff:+.2f} ± {100 * se:.2f}",
    )


def regularization_figures(record: RunRecord) -> list[Path]:
    plt = pyplot()
    table = record.summary["table"]
    sizes = sorted(table, key=int)
    conditions = list(table[sizes[0]])
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.8), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        means = [100 * table[size][c]["mean"] for c in conditions]
        stds = [100 * table[size][c]["std"] for c in conditions]
        has_val = len(conditions) > 1 and all("val_mean" in table[size][c] for c in conditions)
        chosen = choose_on_validation(table[size]) if has_val else None
        ax.bar(
            range(len(conditions)),
            means,
            yerr=stds,
            capsize=4,
            color=[
                "gray" if c == "baseline" else "C1" if c == chosen else "C0" for c in conditions
            ],
        )
        ax.set_xticks(
            range(len(conditions)), [c.replace("_", "\n") for c in conditions], fontsize=8
        )
        lo = min(m - s for m, s in zip(means, stds, strict=True))
        ax.set(
            ylim=(max(0, lo - 0.5), min(100, max(means) + 0.5)),
            ylabel="test accuracy (%)",
            title=f"{int(size):,} training examples",
        )
    fig.suptitle(
        "Each regularizer alone vs baseline: test accuracy, mean ± std over seeds\n"
        "(orange: the regularizer chosen on validation)"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))  # leave room for the two-line title
    return [save_figure(fig, record.run_dir / "figures" / "regularization.png")]


def regularization_sections(record: RunRecord) -> list[tuple[str, str]]:
    table = record.summary["table"]
    rows = []
    for size, by_condition in sorted(table.items(), key=lambda kv: int(kv[0])):
        base = by_condition["baseline"]["mean"]
        has_val = len(by_condition) > 1 and all("val_mean" in s for s in by_condition.values())
        chosen = choose_on_validation(by_condition) if has_val else None
        for condition, s in by_condition.items():
            delta = "" if condition == "baseline" else f"{100 * (s['mean'] - base):+.2f}"
            rows.append(
                (
                    f"{int(size):,}",
                    condition + (" (chosen)" if condition == chosen else ""),
                    f"{100 * s['val_mean']:.2f} ± {100 * s['val_std']:.2f}"
                    if "val_mean" in s
                    else "—",
                    f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f}",
                    delta,
                    s["n"],
                )
            )
    header = [
        "train size",
        "condition",
        "validation accuracy (%)",
        "test accuracy (%)",
        "test Δ vs baseline (points)",
        "seeds",
    ]
    note = (
        "Mean ± std over seeds. The regularizer marked *chosen* has the best validation "
        "accuracy at that size; only its test gain is judged, so the test split chooses nothing."
    )
    return [("Results", markdown_table(header, rows) + "\n\n" + note)]


REGULARIZATION_CRITERIA = (
    Criterion(f"every condition ran on every size with at least {MIN_SEEDS} seeds", _complete),
    Criterion(
        "on the smallest set, the regularizer chosen on validation beats baseline on test "
        "by > {min_z:g} standard errors",
        _helps_small,
    ),
    Criterion(
        "its test gain is larger on the smallest set than on the largest "
        "(each size's validation choice) by > {min_z:g} standard errors",
        _matters_more_when_small,
    ),
)
