"""The reversal task: read random tokens, then write them in reverse order.

A sequence is [BOS, x_1, ..., x_L, x_L, ..., x_1] with x_i uniform over `n_symbols`
symbols. A causal model trained on next-token prediction cannot beat chance on the first
half (each x_i is fresh noise, and the mask hides the future), but can copy the second half
perfectly by attending back to the mirrored position. Accuracy by position therefore shows
at a glance both that the model learns and that the causal mask works.
"""

from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn


def reversal_batch(
    batch: int, seq_len: int, n_symbols: int, generator: torch.Generator | None = None
) -> Int[Tensor, "batch pos"]:
    """`batch` sequences [BOS, x_1..x_L, x_L..x_1]; BOS is id `n_symbols`.

    Args:
        batch: number of sequences.
        seq_len: L, the length of the random half (a sequence has 2L + 1 tokens).
        n_symbols: size of the random alphabet (the vocabulary is n_symbols + 1).
        generator: the random source.
    """
    x = torch.randint(0, n_symbols, (batch, seq_len), generator=generator)
    bos = torch.full((batch, 1), n_symbols, dtype=x.dtype)
    return torch.cat([bos, x, x.flip(dims=[1])], dim=1)


def per_position_accuracy(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, " targets"]:
    """Fraction of sequences whose argmax prediction of token p + 1 is right, for each p.

    Entry t scores the prediction of tokens[:, t + 1], so for a reversal batch entries
    0..L-1 are the random half and L..2L-1 the reversed half.
    """
    correct = logits[:, :-1].argmax(dim=-1) == tokens[:, 1:]
    return correct.float().mean(dim=0)


@torch.inference_mode()
def evaluate_reversal(
    model: nn.Module, n_seqs: int, seq_len: int, n_symbols: int, seed: int = 1234
) -> dict[str, Any]:
    """Per-position accuracy on fresh sequences, and the two halves' means.

    Returns:
        {"accuracy_by_position": list of 2L floats, "first_half_accuracy",
        "second_half_accuracy", "chance"}.
    """
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    tokens = reversal_batch(n_seqs, seq_len, n_symbols, generator).to(device)
    was_training = model.training
    model.eval()
    acc = per_position_accuracy(model(tokens), tokens).cpu()
    model.train(was_training)
    return {
        "accuracy_by_position": [round(a, 5) for a in acc.tolist()],
        "first_half_accuracy": acc[:seq_len].mean().item(),
        "second_half_accuracy": acc[seq_len:].mean().item(),
        "chance": 1.0 / n_symbols,
    }
