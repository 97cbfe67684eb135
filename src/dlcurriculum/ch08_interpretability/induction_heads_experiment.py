"""`dlc run induction-heads`: train a 2-layer attention-only transformer (chapter 1 code) on
Shakespeare, find its induction and previous-token heads, ablate them, and show the circuit
that joins them: K-composition scores and activation patching (circuit_analysis.py)."""

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.lm_training import train_lm
from dlcurriculum.ch01_transformers.model import Transformer, config_of
from dlcurriculum.ch01_transformers.shakespeare import evaluate_loss, load_corpus, prepare_data
from dlcurriculum.ch08_interpretability import circuit_analysis as circuit
from dlcurriculum.ch08_interpretability.config import InductionConfig
from dlcurriculum.ch08_interpretability.impl import Impl, load_impl
from dlcurriculum.ch08_interpretability.induction import (
    attention_patterns,
    half_losses,
    icl_score,
    per_position_loss,
    previous_token_score,
    repeated_random_tokens,
    top_heads,
)
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything

ANALYSIS_FILE = "analysis.pt"


def with_repeats(
    batch: Tensor, prob: float, g: torch.Generator, min_period: int = 8, max_period: int = 64
) -> Tensor:
    """Turn a random `prob` share of the sequences into one stretch of text repeated.

    Each chosen sequence gets its own period p, uniform in [min_period, max_period], and
    becomes its first p tokens repeated to the full length, so most of its tokens can be
    predicted by copying. A random period matters: with a fixed one, a layer-0 head could
    copy by position alone (attend p - 1 back), without the induction circuit.
    """
    n, seq_len = batch.shape
    out = batch.clone()
    chosen = (torch.rand(n, generator=g) < prob).nonzero()[:, 0].tolist()
    periods = torch.randint(min_period, max_period + 1, (n,), generator=g).tolist()
    for i in chosen:
        p = periods[i]
        out[i] = batch[i, :p].repeat(-(-seq_len // p))[:seq_len]
    return out


def scores(model: nn.Module, ns: Impl, probe: Tensor, half_len: int) -> tuple[Tensor, Tensor]:
    """(induction, previous-token) scores, each [n_layers, n_heads]."""
    patterns = attention_patterns(model, probe)
    induction = torch.stack([ns.induction_score(p, half_len) for p in patterns])
    previous = torch.stack([previous_token_score(p) for p in patterns])
    return induction, previous


def run_induction(cfg: InductionConfig, run_dir: Path) -> Result:
    """Train, then score every head, measure ICL, and ablate the detected heads."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ns = load_impl(cfg.impl)
    data = prepare_data(
        load_corpus(cfg.max_chars),
        cfg.seq_len,
        cfg.min_count,
        cfg.max_vocab or None,
        level=cfg.level,
    )
    d_vocab = len(data.tokenizer)
    model = Transformer(cfg.model_config(d_vocab, cfg.seq_len)).to(device)
    train = data.train.to(device)
    val = data.val[:: max(1, len(data.val) // cfg.eval_seqs)][: cfg.eval_seqs].to(device)
    probe = repeated_random_tokens(
        cfg.n_probe, cfg.half_len, d_vocab, torch.Generator().manual_seed(cfg.seed + 1), low=1
    ).to(device)
    # Patterns need the explicit attention path; the fused one (fast_path) only trains faster.
    readable = Transformer(dataclasses.replace(config_of(model), fast_path=False)).to(device)
    steps_per_epoch = max(1, len(train) // cfg.batch_size)

    def batch_at(step: int) -> Tensor:
        epoch, i = divmod(step, steps_per_epoch)
        order = torch.randperm(
            len(train), generator=torch.Generator().manual_seed(cfg.seed * 9973 + epoch)
        )
        batch = train[order[i * cfg.batch_size : (i + 1) * cfg.batch_size].to(device)]
        return with_repeats(batch, cfg.repeat_prob, torch.Generator().manual_seed(cfg.seed + step))

    def evaluate() -> dict[str, float]:
        readable.load_state_dict(model.state_dict())
        readable.eval()
        induction, previous = scores(readable, ns, probe, cfg.half_len)
        with torch.no_grad():
            first, second = half_losses(per_position_loss(readable(probe), probe), cfg.half_len)
        return {
            "eval/loss": evaluate_loss(model, val, 16),
            "induction/best_score": float(induction.max()),
            "induction/best_prev_token_score": float(previous.max()),
            "repeat/first_half_loss": first,
            "repeat/second_half_loss": second,
        }

    fit = train_lm(cfg, model, batch_at, evaluate, run_dir, "induction", "induction/best_score")
    readable.load_state_dict(model.state_dict())
    readable.eval()
    found, analysis = analyse(readable, ns, cfg, probe, val)
    summary = fit | found
    with runs.atomic_open(run_dir / ANALYSIS_FILE, "wb") as f:
        torch.save(analysis, f)
    with runs.atomic_open(run_dir / "model.pt", "wb") as f:
        torch.save(
            {"config": dataclasses.asdict(config_of(readable)), "model": readable.state_dict()}, f
        )
    summary |= {"wall_time_s": clock.elapsed, "device": str(device), "d_vocab": d_vocab}
    return finish(run_dir, summary, run_dir / "model.pt")


def analyse(
    model: nn.Module, ns: Impl, cfg: InductionConfig, probe: Tensor, val: Tensor
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Scores, ICL, and ablations of the trained model; tensors go to analysis.pt for figures."""
    induction, previous = scores(model, ns, probe, cfg.half_len)
    with torch.no_grad():
        probe_loss = per_position_loss(model(probe), probe)
        # In chunks: the explicit attention path holds [batch, heads, pos, pos] patterns.
        chunks = val.split(64)
        val_loss = torch.stack([per_position_loss(model(c), c) * len(c) for c in chunks]).sum(
            0
        ) / len(val)
    first, second = half_losses(probe_loss, cfg.half_len)
    detected = [
        (layer, head)
        for layer, head, s in top_heads(induction, induction.numel())
        if s >= cfg.induction_threshold
    ]
    ablated_heads = detected or [top_heads(induction, 1)[0][:2]]
    prev_layer0 = [(0, int(previous[0].argmax()))]
    taken = set(ablated_heads) | set(prev_layer0)  # the control shares no head with them
    all_heads = [(la, h) for la in range(induction.shape[0]) for h in range(induction.shape[1])]
    control = [h for h in all_heads if h not in taken]
    control = sorted(control, key=lambda h: float(induction[h]))[: len(ablated_heads)]
    ablations: dict[str, dict[str, Any]] = {}
    for name, heads in (
        ("induction", ablated_heads),
        ("prev_token", prev_layer0),
        ("control", control),
    ):
        with torch.no_grad():
            loss = per_position_loss(ns.ablate_heads(model, probe, heads), probe)
        ablations[name] = {
            "heads": [list(h) for h in heads],
            "second_half_loss": half_losses(loss, cfg.half_len)[1],
            "per_position": loss,
        }
    patterns = attention_patterns(model, probe[:1])
    composed, composition_tensors = circuit.composition(model, ns, cfg.seed + 2)
    d_vocab = config_of(model).d_vocab
    patched, patch_tensors = circuit.patching(
        model,
        ns,
        probe,
        d_vocab,
        cfg.half_len,
        cfg.seed + 3,
        ablated_heads,
        prev_layer0[0],
        control,
    )
    analysis = {
        "induction": induction,
        "previous": previous,
        "probe_loss": probe_loss,
        "val_loss": val_loss,
        "patterns": [p[0] for p in patterns],
        "ablations": {k: v["per_position"] for k, v in ablations.items()},
        **composition_tensors,
        **patch_tensors,
    }
    summary = {
        "induction_scores": induction.tolist(),
        "prev_token_scores": previous.tolist(),
        "best_induction_score": float(induction.max()),
        "best_induction_head": list(top_heads(induction, 1)[0][:2]),
        "detected_induction_heads": [list(h) for h in detected],
        "icl_score": icl_score(val_loss),
        "icl_positions": [min(500, len(val_loss)), 50],
        "repeat_first_half_loss": first,
        "repeat_second_half_loss": second,
        **{f"ablate_{k}_heads": v["heads"] for k, v in ablations.items()},
        **{f"ablate_{k}_second_half_loss": v["second_half_loss"] for k, v in ablations.items()},
        "ablation_loss_rise": ablations["induction"]["second_half_loss"] - second,
        "val_loss": float(evaluate_loss(model, val, 16)),
        **composed,
        **patched,
    }
    return summary, analysis
