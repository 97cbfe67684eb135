"""The induction circuit of the trained two-layer model: composition scores and patching.

Two independent lines of evidence that the layer-0 previous-token head feeds the layer-1
induction heads through their keys (Elhage et al. 2021; Olsson et al. 2022):

- weights: the K-composition score of (previous-token head, induction head) against every
  other head pair and against random matrices of the same shapes;
- activations: patching clean head outputs into a run whose first copy is corrupted, per
  head and per position, and the induction heads' attention to their target when only the
  earlier layers' heads (or the previous-token head alone) are patched, at the first copy
  only: what they write there is read through the induction heads' keys.
"""

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.model import config_of
from dlcurriculum.ch08_interpretability.composition import (
    KINDS,
    expected_random_score,
    head_matrices,
    random_composition_scores,
    top_pairs,
)
from dlcurriculum.ch08_interpretability.impl import Impl
from dlcurriculum.ch08_interpretability.patching import corrupt_first_copy, for_transformer
from dlcurriculum.core.hooks import capture

Head = tuple[int, int]


def _pair(pair: tuple[Head, Head, float]) -> list[int | float]:
    (la, ha), (lb, hb), score = pair
    return [la, ha, lb, hb, score]


def composition(model: nn.Module, ns: Impl, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Q-, K- and V-composition scores of every head pair, and the random baseline."""
    W_OV, W_QK = head_matrices(model)
    scores = {kind: ns.composition_scores(W_OV, W_QK, kind) for kind in KINDS}
    n_layers, n_heads, d_model = W_OV.shape[:3]
    d_head = config_of(model).d_head
    g = torch.Generator().manual_seed(seed)
    baseline = random_composition_scores(
        n_layers, n_heads, d_model, d_head, g, "K", 16, ns.composition_scores
    )
    top = {kind: top_pairs(scores[kind], 3) for kind in KINDS}
    summary = {
        "k_composition": scores["K"].tolist(),
        **{f"{kind.lower()}_composition_top": [_pair(p) for p in top[kind]] for kind in KINDS},
        "composition_random_mean": float(baseline.mean()),
        "composition_random_sd": float(baseline.std()),
        "composition_random_expected": expected_random_score(d_model),
        "k_composition_ratio": top["K"][0][2] / float(baseline.mean()),
    }
    return summary, {"composition": scores, "composition_random": baseline}


def _induction_attention(
    model: nn.Module, ns: Impl, run: Any, heads: Sequence[Head], half_len: int
) -> float:
    """Mean induction score of `heads` during `run()` (a forward pass of `model`)."""
    names = [f"blocks.{layer}.attn.hook_pattern" for layer in sorted({la for la, _ in heads})]
    with torch.no_grad(), capture(model, names) as cache:
        run()
    per_layer = {int(n.split(".")[1]): ns.induction_score(cache[n], half_len) for n in names}
    return float(torch.stack([per_layer[la][h] for la, h in heads]).mean())


def patching(
    model: nn.Module,
    ns: Impl,
    probe: Tensor,
    d_vocab: int,
    half_len: int,
    seed: int,
    induction_heads: Sequence[Head],
    prev_head: Head,
    control: Sequence[Head],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Denoising patches from the clean probe into one with its first copy redrawn."""
    g = torch.Generator().manual_seed(seed)
    corrupted = corrupt_first_copy(probe, half_len, d_vocab, g, low=1)
    pa = for_transformer(model, ns.patch_heads, probe, corrupted, half_len)
    n_layers, n_heads = len(pa.clean_z), pa.clean_z[0].shape[1]
    by_head = pa.by_head(n_layers, n_heads)
    per_position = [prev_head, *induction_heads]
    by_position = pa.by_position(per_position)
    n = probe.shape[1]
    first = list(range(n - 2 * half_len, n - half_len))  # the corrupted copy's positions
    # the key side: heads of the layers before the induction heads, patched at the first copy
    below = min(layer for layer, _ in induction_heads)
    earlier = [(layer, h) for layer in range(below) for h in range(n_heads)]

    def attention(heads: Sequence[Head] | None) -> float:
        def run() -> None:
            if heads is None:
                model(probe)
            else:
                ns.patch_heads(model, corrupted, pa.clean_z, heads, first)

        return _induction_attention(model, ns, run, induction_heads, half_len)

    attended = {
        "clean": attention(None),
        "corrupted": attention([]),
        "prev_token": attention([prev_head]) if earlier else float("nan"),
        "earlier_layers": attention(earlier) if earlier else float("nan"),
    }
    gap = attended["clean"] - attended["corrupted"]

    def restored(key: str) -> float:
        return (attended[key] - attended["corrupted"]) / gap if gap > 0 else float("nan")

    summary = {
        "patch_clean_logit_diff": pa.clean_ld,
        "patch_corrupted_logit_diff": pa.corrupted_ld,
        "patch_head_recovery": by_head.tolist(),
        "patch_induction_heads": [list(h) for h in induction_heads],
        "patch_induction_recovery": pa.recovery(induction_heads),
        "patch_control_heads": [list(h) for h in control],
        "patch_control_recovery": pa.recovery(control),
        "patch_prev_token_recovery": pa.recovery([prev_head]),
        "patch_earlier_layers_first_copy_recovery": pa.recovery(earlier, first)
        if earlier
        else float("nan"),
        "patch_position_heads": [list(h) for h in per_position],
        "patch_position_first_copy": by_position[:, first].sum(1).tolist(),
        "patch_position_repeat": by_position[:, n - half_len :].sum(1).tolist(),
        "induction_attention": attended,
        "attention_restored_prev_token": restored("prev_token"),
        "attention_restored_earlier_layers": restored("earlier_layers"),
    }
    return summary, {"patch_heads": by_head, "patch_positions": by_position}
