"""Tensor parallelism, Megatron style: attention heads and MLP columns split across ranks.

Ref: Shoeybi et al. 2019, "Megatron-LM", section 3 and figure 3.

In the MLP, W_in is split by columns (each rank computes d_mlp / W hidden units, with no
communication, since the nonlinearity acts elementwise) and W_out by rows (each rank's
product is a partial sum of the output). In attention, each rank owns n_heads / W whole
heads and the matching rows of W_O. One allreduce per sub-block adds the partial outputs
(operator g); in the backward pass, one allreduce adds the gradients that flow back into
the replicated residual stream (operator f). Everything outside the blocks (embeddings,
LayerNorms, unembedding) is replicated and gets identical gradients on every rank.
"""

from typing import Any

import einops
import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.attention import Attention, attention, causal_mask
from dlcurriculum.ch01_transformers.model import MLP, Transformer, TransformerBlock
from dlcurriculum.ch03_training_at_scale.comm import Comm
from dlcurriculum.core.errors import DlcError


class _CopyToParallel(torch.autograd.Function):
    """Megatron's f: identity forward, allreduce of the gradient backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, comm: Comm) -> Tensor:
        ctx.comm = comm
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        grad = grad.clone()
        ctx.comm.allreduce(grad)
        return grad, None


class _ReduceFromParallel(torch.autograd.Function):
    """Megatron's g: allreduce forward, identity backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, comm: Comm) -> Tensor:
        x = x.clone()
        comm.allreduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return grad, None


def copy_to_parallel(x: Tensor, comm: Comm) -> Tensor:
    """Enter a tensor-parallel region (f)."""
    out: Tensor = _CopyToParallel.apply(x, comm)
    return out


def reduce_from_parallel(x: Tensor, comm: Comm) -> Tensor:
    """Leave a tensor-parallel region by summing the ranks' partial outputs (g)."""
    out: Tensor = _ReduceFromParallel.apply(x, comm)
    return out


def split_range(total: int, comm: Comm, what: str) -> slice:
    """This rank's equal share of `total` items (heads or hidden units).

    Raises:
        DlcError: `total` is not divisible by the world size.
    """
    if total % comm.world_size != 0:
        raise DlcError(
            f"{what}={total} cannot be split over {comm.world_size} tensor-parallel ranks: "
            f"use a multiple of {comm.world_size} (or fewer ranks)"
        )
    per = total // comm.world_size
    return slice(comm.rank * per, (comm.rank + 1) * per)


def _shard(p: Tensor, index: Any) -> nn.Parameter:
    return nn.Parameter(p.detach()[index].clone())


class ParallelAttention(nn.Module):
    """This rank's heads of an Attention layer; outputs a partial sum (no b_O)."""

    def __init__(self, full: Attention, comm: Comm):
        super().__init__()
        self.heads = split_range(full.cfg.n_heads, comm, "n_heads")
        self.W_Q, self.W_K = _shard(full.W_Q, self.heads), _shard(full.W_K, self.heads)
        self.W_V, self.W_O = _shard(full.W_V, self.heads), _shard(full.W_O, self.heads)
        self.b_Q, self.b_K = _shard(full.b_Q, self.heads), _shard(full.b_K, self.heads)
        self.b_V = _shard(full.b_V, self.heads)

    def forward(self, x: Tensor) -> Tensor:
        to_heads = "batch pos d_model, n_heads d_model d_head -> batch n_heads pos d_head"
        q = einops.einsum(x, self.W_Q, to_heads) + self.b_Q[:, None, :]
        k = einops.einsum(x, self.W_K, to_heads) + self.b_K[:, None, :]
        v = einops.einsum(x, self.W_V, to_heads) + self.b_V[:, None, :]
        z = attention(q, k, v, causal_mask(x.shape[1], device=x.device))
        from_heads = "batch n_heads pos d_head, n_heads d_head d_model -> batch pos d_model"
        return einops.einsum(z, self.W_O, from_heads)


class ParallelMLP(nn.Module):
    """Column-parallel W_in, row-parallel W_out; outputs a partial sum (no b_out)."""

    def __init__(self, full: MLP, comm: Comm):
        super().__init__()
        self.act = full.cfg.act_fn
        self.cols = split_range(full.cfg.d_mlp, comm, "d_mlp")
        self.W_in = _shard(full.W_in, (slice(None), self.cols))
        self.b_in = _shard(full.b_in, self.cols)
        self.W_out = _shard(full.W_out, self.cols)

    def forward(self, x: Tensor) -> Tensor:
        hidden = x @ self.W_in + self.b_in  # [batch, pos, d_mlp / W]: no communication
        approximate = "tanh" if self.act == "gelu_new" else "none"
        post = (
            torch.relu(hidden)
            if self.act == "relu"
            else nn.functional.gelu(hidden, approximate=approximate)
        )
        return post @ self.W_out


class ParallelBlock(nn.Module):
    """A pre-LN block with its attention and MLP split across the ranks of `comm`."""

    def __init__(self, full: TransformerBlock, comm: Comm):
        super().__init__()
        assert full.mlp is not None and full.ln2 is not None, "attention-only blocks: not needed"
        self.comm = comm
        self.ln1, self.ln2 = full.ln1, full.ln2  # replicated
        self.attn, self.mlp = ParallelAttention(full.attn, comm), ParallelMLP(full.mlp, comm)
        self.b_O, self.b_out = full.attn.b_O, full.mlp.b_out  # added once, after the sum

    def forward(self, resid: Tensor) -> Tensor:
        x = copy_to_parallel(self.ln1(resid), self.comm)
        resid = resid + reduce_from_parallel(self.attn(x), self.comm) + self.b_O
        x = copy_to_parallel(self.ln2(resid), self.comm)
        return resid + reduce_from_parallel(self.mlp(x), self.comm) + self.b_out


class TensorParallelTransformer(nn.Module):
    """A Transformer whose blocks are split across ranks; built from a full model.

    Every rank builds the same full model (same seed) and keeps its shards, so the result
    computes exactly what the full model computes.
    """

    def __init__(self, full: Transformer, comm: Comm):
        super().__init__()
        assert full.cfg.dropout == 0.0, "dropout would need the same mask on every rank"
        self.cfg = full.cfg
        self.embed, self.pos_embed, self.ln_final = full.embed, full.pos_embed, full.ln_final
        self.unembed: nn.Module | None = full.unembed
        self.blocks: list[ParallelBlock] = nn.ModuleList(  # type: ignore[assignment]
            [ParallelBlock(b, comm) for b in full.blocks]  # type: ignore[arg-type]
        )

    def forward(self, tokens: Tensor) -> Tensor:
        """Next-token logits, the same on every rank."""
        resid = self.embed(tokens) + self.pos_embed(tokens.shape[1])
        for block in self.blocks:
            resid = block(resid)
        W_U = self.embed.W_E.T if self.unembed is None else self.unembed.W_U
        logits: Tensor = self.ln_final(resid) @ W_U
        return logits


def full_gradient_slices(tp: TensorParallelTransformer) -> dict[str, tuple[Tensor | None, Any]]:
    """Each sharded parameter's gradient and the index of the full parameter it came from.

    Keys are the full model's parameter names (blocks.0.attn.W_Q ...), for comparisons.
    """
    out: dict[str, tuple[Tensor | None, Any]] = {}
    for i, block in enumerate(tp.blocks):
        for name in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V"):
            p = getattr(block.attn, name)
            out[f"blocks.{i}.attn.{name}"] = (p.grad, block.attn.heads)
        cols = block.mlp.cols
        out[f"blocks.{i}.mlp.W_in"] = (block.mlp.W_in.grad, (slice(None), cols))
        out[f"blocks.{i}.mlp.b_in"] = (block.mlp.b_in.grad, cols)
        out[f"blocks.{i}.mlp.W_out"] = (block.mlp.W_out.grad, cols)
    return out
