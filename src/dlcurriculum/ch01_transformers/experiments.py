"""Chapter 1's experiments: `dlc run reverse` (the mask at work) and `dlc run shakespeare`.

Configs and presets are in config.py, criteria and report code in report.py.
"""

from pathlib import Path

import torch

from dlcurriculum.ch01_transformers.config import PRESETS, ReverseConfig, ShakespeareConfig
from dlcurriculum.ch01_transformers.lm_training import build_model, train_lm
from dlcurriculum.ch01_transformers.model import count_params
from dlcurriculum.ch01_transformers.report import (
    REVERSE_CRITERIA,
    SHAKESPEARE_CRITERIA,
    reverse_figures,
    reverse_sections,
    shakespeare_figures,
    shakespeare_sections,
)
from dlcurriculum.ch01_transformers.reversal import evaluate_reversal, reversal_batch
from dlcurriculum.ch01_transformers.shakespeare import (
    MODEL_FILE,
    evaluate_loss,
    generate_text,
    load_corpus,
    perplexity,
    prepare_data,
    save_shakespeare_model,
)
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything


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


REVERSE = ExperimentSpec(
    name="reverse",
    title="Chapter 1: reversing random sequences",
    presets=PRESETS["reverse"],
    run=run_reverse,
    criteria=REVERSE_CRITERIA,
    figures=reverse_figures,
    sections=reverse_sections,
    next_steps=(
        "The random half must stay at chance: if it does better, the model sees the future "
        "(a mask bug). Try `--set attn_only=true --set n_layers=1`: one attention layer "
        "suffices, and its pattern (hook `blocks.0.attn.hook_pattern`) is an anti-diagonal."
    ),
)


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


SHAKESPEARE = ExperimentSpec(
    name="shakespeare",
    title="Chapter 1: a word-level language model of Shakespeare",
    presets=PRESETS["shakespeare"],
    run=run_shakespeare,
    criteria=SHAKESPEARE_CRITERIA,
    figures=shakespeare_figures,
    sections=shakespeare_sections,
    next_steps=(
        "Compare the samples across temperatures: low temperatures repeat common phrases, "
        "high ones invent words' order freely. Load the model in Python with "
        "`load_shakespeare_model(run_dir)` from dlcurriculum.ch01_transformers.shakespeare "
        "(chapters 7 and 8 do)."
    ),
)
