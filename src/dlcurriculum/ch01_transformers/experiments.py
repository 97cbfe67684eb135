"""Chapter 1's experiments: `dlc run reverse` (the mask at work) and `dlc run shakespeare`."""

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from dlcurriculum.ch01_transformers.loop import LMTrainConfig, build_model, train_lm
from dlcurriculum.ch01_transformers.model import count_params
from dlcurriculum.ch01_transformers.reversal import evaluate_reversal, reversal_batch
from dlcurriculum.ch01_transformers.shakespeare import (
    MODEL_FILE,
    evaluate_loss,
    generate_text,
    perplexity,
    prepare_data,
    save_shakespeare_model,
)
from dlcurriculum.core import runs
from dlcurriculum.core.config import check, require
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    at_least,
    markdown_table,
    pyplot,
    save_figure,
)
from dlcurriculum.core.seed import choose_device, seed_everything

# ---------------------------------------------------------------------------- reversal


@dataclass(frozen=True)
class ReverseConfig(LMTrainConfig):
    """Train on [BOS, x_1..x_L, x_L..x_1] and measure accuracy at every position."""

    seq_len: int = 16
    """L, the length of the random half."""
    n_symbols: int = 32
    """Alphabet of the random tokens; chance accuracy is 1 / n_symbols."""
    eval_seqs: int = 2000
    """Fresh sequences per evaluation."""
    target_accuracy: float = 0.99
    """The bar for the reversed (second) half."""
    chance_tolerance: float = 0.03
    """How far from 1 / n_symbols the first half may be (it cannot be learned)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self, "seq_len", "eval_seqs", ge=1)
        check(self, "n_symbols", ge=2)
        check(self, "target_accuracy", "chance_tolerance", gt=0, le=1)


REVERSE_PRESETS = {
    "smoke": ReverseConfig(
        seq_len=4,
        n_symbols=8,
        d_model=32,
        n_layers=1,
        n_heads=2,
        d_mlp=64,
        attn_only=True,
        steps=300,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=30,
        weight_decay=0.0,
        eval_every=100,
        eval_seqs=1000,
    ),
    "quick": ReverseConfig(steps=800, eval_every=100),
    "full": ReverseConfig(
        seq_len=32,
        n_symbols=64,
        d_model=128,
        n_layers=2,
        d_mlp=512,
        steps=3000,
        batch_size=128,
        eval_every=250,
        eval_seqs=5000,
        fast_path=True,
    ),
}


def run_reverse(cfg: ReverseConfig, run_dir: Path) -> Result:
    """Train a transformer on the reversal task; report accuracy by position."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    model = build_model(cfg.model_config(cfg.n_symbols + 1, 2 * cfg.seq_len + 1), cfg.impl)
    model = model.to(device)

    def batch_at(step: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        return reversal_batch(cfg.batch_size, cfg.seq_len, cfg.n_symbols, g).to(device)

    def evaluate() -> dict[str, float]:
        r = evaluate_reversal(model, cfg.eval_seqs, cfg.seq_len, cfg.n_symbols)
        return {
            "eval/accuracy_second_half": r["second_half_accuracy"],
            "eval/accuracy_first_half": r["first_half_accuracy"],
        }

    fit = train_lm(cfg, model, batch_at, evaluate, run_dir, "reverse", "eval/accuracy_second_half")
    final = evaluate_reversal(model, cfg.eval_seqs, cfg.seq_len, cfg.n_symbols, seed=4321)
    summary = {
        **fit,
        **final,
        "parameters": count_params(model),
        "device": str(device),
        "wall_time_s": clock.elapsed,
    }
    return finish(run_dir, summary, runs.latest_checkpoint(run_dir))


def _first_half(record: RunRecord) -> Verdict:
    acc, chance = record.summary["first_half_accuracy"], record.summary["chance"]
    tol = record.config["chance_tolerance"]
    # above chance: the model sees the future; below it: it is not even guessing uniformly
    return Verdict(abs(acc - chance) <= tol, f"{acc:.2%} vs chance {chance:.2%}")


def _reverse_figures(record: RunRecord) -> list[Path]:
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


def _reverse_sections(record: RunRecord) -> list[tuple[str, str]]:
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


REVERSE = ExperimentSpec(
    name="reverse",
    title="Chapter 1: reversing random sequences",
    presets=REVERSE_PRESETS,
    run=run_reverse,
    criteria=(
        at_least("reversed half: accuracy", "second_half_accuracy", "target_accuracy", "{:.2%}"),
        Criterion(
            "random half: |accuracy - chance (1/n_symbols)| ≤ {chance_tolerance:.1%} "
            "(the causal mask hides the future)",
            _first_half,
        ),
    ),
    figures=_reverse_figures,
    sections=_reverse_sections,
    next_steps=(
        "The random half must stay at chance: if it does better, the model sees the future "
        "(a mask bug). Try `--set attn_only=true --set n_layers=1`: one attention layer "
        "suffices, and its pattern (hook `blocks.0.attn.hook_pattern`) is an anti-diagonal."
    ),
)

# ---------------------------------------------------------------------------- Shakespeare


@dataclass(frozen=True)
class ShakespeareConfig(LMTrainConfig):
    """Train a word-level language model on Shakespeare's complete works."""

    seq_len: int = 128
    """Tokens per training sequence (= the model's n_ctx)."""
    min_count: int = 10
    """Pieces seen fewer times in the training text become <unk>."""
    max_vocab: int = 0
    """Cap on the vocabulary size (0 = no cap)."""
    max_chars: int = 0
    """Use only the first this many characters of the corpus (0 = all; for smoke tests)."""
    n_regions: int = 20
    """Contiguous regions the text is cut into for the train/validation split."""
    val_fraction: float = 0.1
    """Share of the regions held out for validation."""
    eval_seqs: int = 64
    """Validation sequences per evaluation during training (the final one uses all)."""
    eval_batch_size: int = 64
    """Sequences per forward pass when evaluating."""
    baseline_margin: float = 1.0
    """How many nats below the unigram baseline the validation loss must be."""
    prompt: str = "ROMEO.\n"
    """Prompt of the samples in the report."""
    sample_tokens: int = 80
    """Pieces per sample."""
    temperatures: tuple[float, ...] = (0.5, 0.8, 1.0)
    """One sample per temperature."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self, "seq_len", "n_regions", ge=2)
        check(self, "min_count", "eval_seqs", "eval_batch_size", "sample_tokens", ge=1)
        check(self, "max_vocab", "max_chars", "baseline_margin", ge=0)
        check(self, "val_fraction", gt=0, lt=1)
        check(self, "temperatures", ge=0)  # 0 = greedy
        require(
            self.max_vocab != 1,
            "max_vocab must be 0 (no cap) or at least 2 (<unk> and one word), got 1",
        )
        n_val = max(1, round(self.n_regions * self.val_fraction))
        require(
            n_val < self.n_regions,
            f"val_fraction={self.val_fraction} of n_regions={self.n_regions} holds out "
            f"{n_val} regions and leaves none for training: lower val_fraction",
        )
        require(bool(self.prompt), "prompt must not be empty: give a word, e.g. prompt=ROMEO.")


SHAKESPEARE_PRESETS = {
    "smoke": ShakespeareConfig(
        max_chars=300_000,
        seq_len=32,
        min_count=3,
        d_model=32,
        n_layers=1,
        n_heads=2,
        d_mlp=64,
        tie_embeddings=True,
        steps=150,
        batch_size=16,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=5,
        eval_every=50,
        eval_seqs=16,
        sample_tokens=12,
    ),
    "quick": ShakespeareConfig(
        d_model=160,
        n_layers=4,
        n_heads=4,
        d_mlp=640,
        tie_embeddings=True,
        fast_path=True,
        steps=600,
        batch_size=32,
        lr=2e-3,
        min_lr=2e-4,
        warmup_steps=40,
        weight_decay=0.1,
        eval_every=50,
    ),
    # Data-limited, not compute-limited: 1.7M training tokens, so ~24 epochs with dropout;
    # minutes on one modern GPU. Bigger or longer mostly overfits. Not yet measured on a GPU.
    "full": ShakespeareConfig(
        seq_len=256,
        min_count=3,
        d_model=384,
        n_layers=6,
        n_heads=6,
        d_mlp=1536,
        tie_embeddings=True,
        dropout=0.2,
        fast_path=True,
        steps=2500,
        batch_size=64,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=200,
        weight_decay=0.1,
        eval_every=100,
        eval_seqs=256,
    ),
}


def load_corpus(max_chars: int) -> str:
    """The complete works (through the offline source chain), optionally only a prefix."""
    from dlcurriculum.data import load_shakespeare

    text = load_shakespeare()
    return text[:max_chars] if max_chars else text


def run_shakespeare(cfg: ShakespeareConfig, run_dir: Path) -> Result:
    """Train the word-level model; save it with its tokenizer as run_dir/model.pt."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    data = prepare_data(
        load_corpus(cfg.max_chars),
        cfg.seq_len,
        cfg.min_count,
        cfg.max_vocab or None,
        cfg.n_regions,
        cfg.val_fraction,
    )
    model = build_model(cfg.model_config(len(data.tokenizer), cfg.seq_len), cfg.impl).to(device)
    train = data.train.to(device)
    steps_per_epoch = max(1, len(train) // cfg.batch_size)
    stride = max(1, len(data.val) // cfg.eval_seqs)
    val_subset = data.val[::stride][: cfg.eval_seqs]

    def batch_at(step: int) -> torch.Tensor:
        epoch, i = divmod(step, steps_per_epoch)
        # the epoch's order depends only on (seed, epoch), so resuming replays the same batches
        g = torch.Generator().manual_seed(cfg.seed * 9973 + epoch)
        order = torch.randperm(len(train), generator=g)
        return train[order[i * cfg.batch_size : (i + 1) * cfg.batch_size].to(device)]

    def evaluate() -> dict[str, float]:
        loss = evaluate_loss(model, val_subset, cfg.eval_batch_size)
        return {"eval/loss": loss, "eval/perplexity": perplexity(loss)}

    fit = train_lm(cfg, model, batch_at, evaluate, run_dir, "shakespeare", "eval/loss")
    val_loss = evaluate_loss(model, data.val, cfg.eval_batch_size)
    weights = save_shakespeare_model(run_dir / MODEL_FILE, model, data.tokenizer)
    samples = {
        f"{t:g}": generate_text(
            model, data.tokenizer, cfg.prompt, cfg.sample_tokens, temperature=t, seed=cfg.seed
        )
        for t in cfg.temperatures
    }
    summary = {
        **fit,
        "val_loss": val_loss,
        "val_perplexity": perplexity(val_loss),
        "unigram_val_loss": data.unigram_val_loss,
        "unigram_perplexity": perplexity(data.unigram_val_loss),
        "nats_below_unigram": data.unigram_val_loss - val_loss,
        "parameters": count_params(model),
        "d_vocab": len(data.tokenizer),
        "unk_fraction": data.unk_fraction,
        "train_tokens": data.train.numel(),
        "val_tokens": data.val.numel(),
        "epochs": fit["steps"] * cfg.batch_size / len(train),
        "samples": samples,
        "device": str(device),
        "wall_time_s": clock.elapsed,
    }
    return finish(run_dir, summary, weights)


def _beats_unigram(record: RunRecord) -> Verdict:
    s, margin = record.summary, record.config["baseline_margin"]
    gap = s["unigram_val_loss"] - s["val_loss"]
    return Verdict(
        bool(gap >= margin),  # a nan loss fails
        f"{gap:.3f} (val {s['val_loss']:.3f} vs unigram {s['unigram_val_loss']:.3f} nats)",
    )


def _shakespeare_figures(record: RunRecord) -> list[Path]:
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


def _shakespeare_sections(record: RunRecord) -> list[tuple[str, str]]:
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


SHAKESPEARE = ExperimentSpec(
    name="shakespeare",
    title="Chapter 1: a word-level language model of Shakespeare",
    presets=SHAKESPEARE_PRESETS,
    run=run_shakespeare,
    criteria=(
        Criterion(
            "unigram baseline minus validation loss ≥ {baseline_margin:g} nats", _beats_unigram
        ),
    ),
    figures=_shakespeare_figures,
    sections=_shakespeare_sections,
    next_steps=(
        "Compare the samples across temperatures: low temperatures repeat common phrases, "
        "high ones invent words' order freely. Load the model in Python with "
        "`load_shakespeare_model(run_dir)` from dlcurriculum.ch01_transformers.shakespeare "
        "(chapters 7 and 8 do)."
    ),
)
