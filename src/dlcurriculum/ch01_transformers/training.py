"""What every language-model training loop of this chapter shares: loss, optimizer, schedule.

Ref: Loshchilov & Hutter 2019 (AdamW); Loshchilov & Hutter 2017 (SGDR, cosine decay);
nanoGPT `train.py` (warmup + cosine, decay only on matrices, gradient clipping).
"""

import math
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn


def lm_loss(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, ""]:
    """Mean next-token cross-entropy (nats): logits at p predict the token at p + 1."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), tokens[:, 1:].flatten())


def lr_at(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float) -> float:
    """Learning rate at `step` (0-based): linear warmup, then cosine decay to `min_lr`.

    Warmup keeps Adam's early, noisy second-moment estimates from taking huge steps; the
    cosine tail lowers the noise of the final iterates.
    """
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def make_optimizer(
    model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.95)
) -> torch.optim.AdamW:
    """AdamW with weight decay on the weight matrices only (not biases or LayerNorm gains).

    Decaying a gain or a bias pulls it towards 0, which is not a simpler function; decaying
    matrices is what regularizes.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def autocast(device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast on CUDA (tensor cores, fp32 master weights); nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    tokens: Int[Tensor, "batch pos"],
    lr: float,
    max_grad_norm: float,
) -> tuple[float, float]:
    """One optimizer step on a batch of sequences.

    Args:
        model: maps tokens to logits.
        optimizer: its learning rate is set to `lr` first.
        tokens: a batch of training sequences.
        lr: this step's learning rate.
        max_grad_norm: clip the global gradient norm to this (inf disables clipping).

    Returns:
        (loss, gradient norm before clipping), as floats.
    """
    model.train()
    for group in optimizer.param_groups:
        group["lr"] = lr
    with autocast(tokens.device):
        loss = lm_loss(model(tokens), tokens)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item(), grad_norm.item()
