"""Finding induction heads: prefix-matching and previous-token scores, ICL score, head ablation.

Ref: Elhage et al. 2021, "A Mathematical Framework for Transformer Circuits" (induction
heads in 2-layer attention-only models); Olsson et al. 2022, "In-context Learning and
Induction Heads" (prefix-matching score on repeated random tokens; the in-context learning
score, loss at token 500 minus loss at token 50).

On a sequence of T random tokens followed by the same T tokens again, an induction head at
position i of the second copy attends to the token *after* the earlier occurrence of the
current token, position i - T + 1, and copies it; a previous-token head attends to i - 1.
Attention patterns are [batch, n_heads, q_pos, k_pos] with rows that sum to 1.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from dlcurriculum.core.hooks import capture, patch


def repeated_random_tokens(
    batch: int, half_len: int, d_vocab: int, generator: torch.Generator, low: int = 0
) -> Int[Tensor, "batch two_half"]:
    """`batch` sequences of `half_len` uniform random tokens in [low, d_vocab), then repeated."""
    half = torch.randint(low, d_vocab, (batch, half_len), generator=generator)
    return torch.cat([half, half], dim=1)


def induction_score(
    pattern: Float[Tensor, "batch n_heads pos pos"], half_len: int
) -> Float[Tensor, " n_heads"]:
    """Mean attention from each second-copy position to the token after its first occurrence.

    Ref: Olsson et al. 2022, "prefix matching" score.

    Args:
        pattern: attention patterns of one layer on sequences whose last 2 * half_len
            positions are half_len tokens repeated twice (any prefix, e.g. a BOS, comes first).
        half_len: T, the length of one copy.

    Returns:
        Per head, the attention weight at k = q - T + 1, averaged over every query q in the
        second copy and over the batch. 1.0 is a perfect induction head; a head that
        attends uniformly scores about 1 / q.
    """
    # BEGIN SOLUTION
    # HINT: with n = pattern.shape[-1], the second copy is q in [n - T, n); the target key is
    # HINT: q - T + 1. torch.diagonal(pattern, offset=-(T - 1), dim1=-2, dim2=-1) holds
    # HINT: pattern[..., q, q - T + 1] for every q >= T - 1.
    n = pattern.shape[-1]
    diagonal = pattern.diagonal(offset=-(half_len - 1), dim1=-2, dim2=-1)  # [b, h, n - T + 1]
    second_copy = diagonal[..., n - half_len - (half_len - 1) :]  # queries q >= n - T
    return second_copy.mean(dim=(0, 2))
    # END SOLUTION


def previous_token_score(
    pattern: Float[Tensor, "batch n_heads pos pos"],
) -> Float[Tensor, " n_heads"]:
    """Mean attention from each position q >= 1 to q - 1, per head."""
    return pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, 2))


def attention_patterns(model: nn.Module, tokens: Tensor) -> list[Tensor]:
    """Each layer's attention pattern of our chapter-1 Transformer, read through its HookPoints."""
    names = [name for name, _ in model.named_modules() if name.endswith(".attn.hook_pattern")]
    with torch.no_grad(), capture(model, names) as cache:
        model(tokens)
    return [cache[name] for name in names]


def hf_attention_patterns(model: nn.Module, tokens: Tensor) -> list[Tensor]:
    """Each layer's attention pattern of a HuggingFace causal LM (loaded with eager attention)."""
    with torch.no_grad():
        out = model(tokens, output_attentions=True)
    if out.attentions is None or out.attentions[0] is None:
        raise ValueError("no attentions returned: load the model with attn_implementation='eager'")
    return [a.float() for a in out.attentions]


def ablate_heads(
    model: nn.Module, tokens: Int[Tensor, "batch pos"], heads: Sequence[tuple[int, int]]
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits of our Transformer with the given heads' outputs zeroed (zero-ablation).

    Args:
        model: a chapter-1 `Transformer` (its attention blocks have a `hook_z` HookPoint with
            shape [batch, n_heads, pos, d_head], the heads' outputs before W_O).
        tokens: the input.
        heads: (layer, head) pairs to remove.

    Returns:
        The logits of the forward pass with those heads' z set to 0, so they write nothing
        into the residual stream. No hook is left on the model afterwards.
    """
    # BEGIN SOLUTION
    # HINT: group the heads by layer, and patch f"blocks.{layer}.attn.hook_z" with a function
    # HINT: that returns a copy of z with z[:, head] = 0 (do not edit z in place).
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)

    def zero(heads_here: list[int]):  # type: ignore[no-untyped-def]
        def fn(z: Tensor) -> Tensor:
            z = z.clone()
            z[:, heads_here] = 0.0
            return z

        return fn

    edits = {f"blocks.{layer}.attn.hook_z": zero(hs) for layer, hs in by_layer.items()}
    with patch(model, edits):
        return model(tokens)  # type: ignore[no-any-return]
    # END SOLUTION


def per_position_loss(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, " pos_minus_1"]:
    """Next-token cross-entropy at each position (mean over the batch); entry p predicts p + 1."""
    loss = F.cross_entropy(logits[:, :-1].transpose(1, 2).float(), tokens[:, 1:], reduction="none")
    return loss.mean(0)


def half_losses(loss: Float[Tensor, " pos_minus_1"], half_len: int) -> tuple[float, float]:
    """(mean loss predicting the first copy, mean loss predicting the second copy).

    `loss[p]` predicts token p + 1, so the second copy's tokens n - T .. n - 1 are predicted
    at p = n - T - 1 .. n - 2; its first token cannot be predicted by induction, so skip it.
    """
    n = len(loss) + 1
    first = loss[n - 2 * half_len : n - half_len - 1]
    second = loss[n - half_len : n - 1]
    return float(first.mean()), float(second.mean())


def icl_score(loss: Float[Tensor, " pos_minus_1"], late: int = 500, early: int = 50) -> float:
    """Olsson et al.'s in-context learning score: loss at token `late` minus at token `early`.

    Negative means the model predicts better with more context. `late` is capped at the
    last position the losses cover.
    """
    late = min(late, len(loss))
    return float(loss[late - 1] - loss[early - 1])


def top_heads(scores: Float[Tensor, "n_layers n_heads"], k: int) -> list[tuple[int, int, float]]:
    """The k highest-scoring heads as (layer, head, score), best first."""
    flat = scores.flatten()
    values, indices = flat.topk(min(k, flat.numel()))
    n_heads = scores.shape[1]
    return [
        (int(i) // n_heads, int(i) % n_heads, float(v))
        for v, i in zip(values, indices, strict=True)
    ]
