"""Chapter 1's reports: the success criteria, figures and sections of `reverse` and
`shakespeare`, computed from a run folder alone."""

import math
from pathlib import Path

from dlcurriculum.ch01_transformers.shakespeare import MODEL_FILE
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    at_least,
    markdown_table,
    pyplot,
    save_figure,
)

# ---------------------------------------------------------------------------- reversal


def _first_half(record: RunRecord) -> Verdict:
    acc, chance = record.summary["first_half_accuracy"], record.summary["chance"]
    tol = record.config["chance_tolerance"]
    # above chance: the model sees the future; below it: it is not even guessing uniformly
    return Verdict(abs(acc - chance) <= tol, f"{acc:.2%} vs chance {chance:.2%}")


REVERSE_CRITERIA = (
    at_least("reversed half: accuracy", "second_half_accuracy", "target_accuracy", "{:.2%}"),
    Criterion(
        "random half: |accuracy - chance (1/n_symbols)| ≤ {chance_tolerance:.1%} "
        "(the causal mask hides the future)",
        _first_half,
    ),
)


def reverse_figures(record: RunRecord) -> list[Path]:
    """Accuracy by target position beside the training loss."""
    plt = pyplot()
    acc = record.summary["accuracy_by_position"]
    half = len(acc) // 2
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
    colors = ["tab:gray"] * half + ["tab:blue"] * (len(acc) - half)
    ax1.bar(range(1, len(acc) + 1), [100 * a for a in acc], color=colors)
    ax1.axhline(100 * record.summary["chance"], color="tab:red", ls="--", label="chance")
    ax1.axhline(100 * record.config["target_accuracy"], color="black", ls=":", label="target")
    ax1.set(
        xlabel="target position (gray: random half, blue: reversed half)",
        ylabel="accuracy (%)",
        ylim=(0, 101),
        title="Accuracy by position",
    )
    ax1.legend(loc="center left")
    ax2.plot(*record.series("losses/train"), label="train loss")
    ax2.set(xlabel="optimizer step", ylabel="cross-entropy (nats)", title="Training loss")
    floor = math.log(record.config["n_symbols"]) / 2  # the first half stays at log(n_symbols)
    ax2.axhline(floor, color="tab:red", ls="--", label="best possible")
    ax2.legend()
    return [save_figure(fig, record.run_dir / "figures" / "accuracy_by_position.png")]


def reverse_sections(record: RunRecord) -> list[tuple[str, str]]:
    """The accuracy of every target position, as a table."""
    s = record.summary
    rows = [
        (
            f"{i + 1}",
            "random" if i < len(s["accuracy_by_position"]) // 2 else "reversed",
            f"{a:.2%}",
        )
        for i, a in enumerate(s["accuracy_by_position"])
    ]
    text = (
        f"{s['parameters']:,} parameters, {s['steps']} steps in {s['train_time_s']:.1f} s "
        f"of training on {s['device']}.\n\n"
        + markdown_table(["target position", "half", "accuracy"], rows)
    )
    return [("Accuracy by position", text)]


# ---------------------------------------------------------------------------- Shakespeare


def _beats_unigram(record: RunRecord) -> Verdict:
    s, margin = record.summary, record.config["baseline_margin"]
    gap = s["unigram_val_loss"] - s["val_loss"]
    return Verdict(
        bool(gap >= margin),  # a nan loss fails
        f"{gap:.3f} (val {s['val_loss']:.3f} vs unigram {s['unigram_val_loss']:.3f} nats)",
    )


SHAKESPEARE_CRITERIA = (
    Criterion("unigram baseline minus validation loss ≥ {baseline_margin:g} nats", _beats_unigram),
)


def shakespeare_figures(record: RunRecord) -> list[Path]:
    """Training and validation loss against the unigram baseline."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(*record.series("losses/train"), label="train")
    ax.plot(*record.series("eval/loss"), marker="o", label="validation (subset)")
    ax.axhline(
        record.summary["unigram_val_loss"], color="tab:red", ls="--", label="unigram baseline"
    )
    ax.set(xlabel="optimizer step", ylabel="cross-entropy (nats per piece)", title="Loss")
    ax.legend()
    return [save_figure(fig, record.run_dir / "figures" / "loss.png")]


def shakespeare_sections(record: RunRecord) -> list[tuple[str, str]]:
    """The run's facts, the losses against the baseline, and the samples."""
    s = record.summary
    table = markdown_table(
        ["model", "validation loss (nats)", "perplexity"],
        [
            (
                "unigram (training frequencies)",
                f"{s['unigram_val_loss']:.3f}",
                f"{s['unigram_perplexity']:.1f}",
            ),
            ("transformer", f"{s['val_loss']:.3f}", f"{s['val_perplexity']:.1f}"),
        ],
    )
    facts = (
        f"{s['parameters']:,} parameters; vocabulary {s['d_vocab']:,} pieces "
        f"({s['unk_fraction']:.1%} of pieces are `<unk>`); {s['train_tokens']:,} training "
        f"and {s['val_tokens']:,} validation tokens; {s['epochs']:.2f} epochs in "
        f"{s['train_time_s']:.0f} s of training ({s['tokens_per_s']:.0f} tokens/s) on "
        f"{s['device']}. The model is saved with its tokenizer as `{MODEL_FILE}`."
    )
    samples = "\n\n".join(
        f"Temperature {t}:\n\n```text\n{text.strip()}\n```" for t, text in s["samples"].items()
    )
    return [("Results", facts + "\n\n" + table), ("Samples", samples)]
