"""QK and OV circuits of attention heads, and how strongly heads of different layers compose.

Ref: Elhage et al. 2021, "A Mathematical Framework for Transformer Circuits", sections
"Attention heads as information movement" and "Composition": a head's W_QK = W_Q W_K^T
decides where it attends and W_OV = W_V W_O what it writes; a later head B reads what an
earlier head A wrote through its queries (Q-composition), its keys (K-composition) or its
values (V-composition), and the composition score

    ||W_A W_B||_F / (||W_A||_F ||W_B||_F)

measures how much of A's output space B's matrix reads. Random matrices already score
about 1 / sqrt(d_model) (see `random_composition_scores`), so a score means something only
next to that baseline.

Conventions (TransformerLens', rows are residual-stream vectors): a head maps a residual
vector x to x W_OV, and scores a query x_q against a key x_k as x_q W_QK x_k^T. All
matrices here are [d_model, d_model].
"""

from collections.abc import Callable
from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor, nn

Kind = Literal["Q", "K", "V"]
KINDS: tuple[Kind, ...] = ("Q", "K", "V")
HeadMatrices = Float[Tensor, "n_layers n_heads d_model d_model"]


def composition_score(
    W_A: Float[Tensor, "... d_model d_model"], W_B: Float[Tensor, "... d_model d_model"]
) -> Float[Tensor, "..."]:
    """Elhage et al.'s composition score ||W_A W_B||_F / (||W_A||_F ||W_B||_F).

    Args:
        W_A: the earlier head's matrix (what it writes), any leading dims.
        W_B: the later head's matrix (what reads it); leading dims broadcast with W_A's.

    Returns:
        One score per broadcast matrix pair, in [0, 1]: 1 when W_B reads exactly the
        subspace W_A writes, along the same directions (e.g. W_B = W_A^T); 0 when it reads
        none of it (W_A W_B = 0).
    """
    # BEGIN SOLUTION
    # HINT: the Frobenius norm of the last two dims is torch.linalg.matrix_norm (its default
    # HINT: ord="fro"); multiply the two matrices in the order given, W_A @ W_B.
    product = torch.linalg.matrix_norm(W_A @ W_B)
    return product / (torch.linalg.matrix_norm(W_A) * torch.linalg.matrix_norm(W_B))
    # END SOLUTION


def composition_scores(
    W_OV: HeadMatrices, W_QK: HeadMatrices, kind: Kind
) -> Float[Tensor, "n_layers n_heads n_layers n_heads"]:
    """Q-, K- or V-composition scores of every (earlier head, later head) pair.

    Args:
        W_OV: each head's OV matrix (x -> x W_OV is what it writes).
        W_QK: each head's QK matrix (x_q W_QK x_k^T is its attention score).
        kind: "Q" (A's output read by B's queries: W_OV^A W_QK^B), "K" (by B's keys:
            W_OV^A (W_QK^B)^T) or "V" (by B's values: W_OV^A W_OV^B).

    Returns:
        scores[la, ha, lb, hb]: the composition score of head ha of layer la (the writer)
        with head hb of layer lb (the reader) where la < lb; 0 where la >= lb, since a head
        reads only what earlier layers wrote.
    """
    # BEGIN SOLUTION
    # HINT: for K-composition B's keys read A's output: the score x_q W_QK (x W_OV)^T means
    # HINT: the matrix W_QK W_OV^T, whose norm is that of W_OV W_QK^T; broadcast
    # HINT: W_OV[:, :, None, None] against the readers' matrices [None, None].
    readers = {"Q": W_QK, "K": W_QK.transpose(-1, -2), "V": W_OV}[kind]
    scores = composition_score(W_OV[:, :, None, None], readers[None, None])
    layers = torch.arange(W_OV.shape[0], device=W_OV.device)
    earlier = layers[:, None, None, None] < layers[None, None, :, None]
    return torch.where(earlier, scores, torch.zeros_like(scores))
    # END SOLUTION


def head_matrices(model: nn.Module, fold_ln: bool = True) -> tuple[HeadMatrices, HeadMatrices]:
    """(W_OV, W_QK) of every head of our chapter-1 Transformer, each [n_layers, n_heads, d, d].

    With `fold_ln` the LayerNorm each head reads through is folded in, as TransformerLens
    does when it loads a model: its gain scales the rows of W_Q, W_K and W_V (both the
    query and the key side read through the block's ln1), and because LayerNorm subtracts
    the mean over d_model, only the centred part of what a head writes is read later
    (W_O is centred over d_model). The normalising division is one scalar per position and
    cannot change a normalised score.
    """
    ov, qk = [], []
    with torch.no_grad():
        for block in model.blocks:  # type: ignore[union-attr]
            attn = block.attn
            W_Q, W_K, W_V, W_O = attn.W_Q, attn.W_K, attn.W_V, attn.W_O
            if fold_ln:
                gain = block.ln1.w[None, :, None]
                W_Q, W_K, W_V = gain * W_Q, gain * W_K, gain * W_V
                W_O = W_O - W_O.mean(dim=-1, keepdim=True)
            ov.append(W_V @ W_O)
            qk.append(W_Q @ W_K.transpose(-1, -2))
    return torch.stack(ov).float(), torch.stack(qk).float()


def random_head_matrices(
    n_layers: int, n_heads: int, d_model: int, d_head: int, generator: torch.Generator
) -> tuple[HeadMatrices, HeadMatrices]:
    """(W_OV, W_QK) built from Gaussian W_Q, W_K, W_V, W_O of a model's shapes."""

    def factor(rows: int, cols: int) -> Tensor:
        return torch.randn(n_layers, n_heads, rows, cols, generator=generator)

    W_OV = factor(d_model, d_head) @ factor(d_head, d_model)
    W_QK = factor(d_model, d_head) @ factor(d_head, d_model)
    return W_OV, W_QK


def random_composition_scores(
    n_layers: int,
    n_heads: int,
    d_model: int,
    d_head: int,
    generator: torch.Generator,
    kind: Kind = "K",
    n_models: int = 8,
    scores_fn: Callable[[Tensor, Tensor, Kind], Tensor] | None = None,
) -> Float[Tensor, " pairs"]:
    """The baseline: composition scores of the head pairs of `n_models` random models.

    For independent Gaussian factors E||W_A W_B||_F^2 = ||W_A||_F^2 ||W_B||_F^2 / d_model
    in expectation, whatever d_head, so the scores gather near `expected_random_score`.
    `scores_fn` scores them (default `composition_scores`; the experiment passes the one it
    scores the model with, the learner's under --impl).
    """
    scores_fn = scores_fn or composition_scores
    out = []
    for _ in range(n_models):
        W_OV, W_QK = random_head_matrices(n_layers, n_heads, d_model, d_head, generator)
        out.append(scores_fn(W_OV, W_QK, kind)[layer_pairs(n_layers, n_heads)])
    return torch.cat(out)


def expected_random_score(d_model: int) -> float:
    """sqrt(E||AB||^2 / (E||A||^2 E||B||^2)) = 1 / sqrt(d_model), for isotropic random A, B."""
    return float(d_model**-0.5)


def layer_pairs(n_layers: int, n_heads: int) -> Tensor:
    """Boolean [n_layers, n_heads, n_layers, n_heads]: True where the writer's layer is earlier."""
    layers = torch.arange(n_layers)
    earlier = layers[:, None] < layers[None, :]
    return earlier[:, None, :, None].expand(n_layers, n_heads, n_layers, n_heads)


def top_pairs(
    scores: Float[Tensor, "n_layers n_heads n_layers n_heads"], k: int
) -> list[tuple[tuple[int, int], tuple[int, int], float]]:
    """The k highest-scoring (writer, reader) pairs among earlier -> later heads, best first."""
    n_layers, n_heads = scores.shape[:2]
    valid = layer_pairs(n_layers, n_heads)
    masked = torch.where(valid, scores, torch.full_like(scores, -torch.inf)).flatten()
    values, indices = masked.topk(min(k, int(valid.sum())))
    out = []
    for value, index in zip(values.tolist(), indices.tolist(), strict=True):
        la, ha, lb, hb = torch.unravel_index(torch.tensor(index), scores.shape)
        out.append(((int(la), int(ha)), (int(lb), int(hb)), float(value)))
    return out
