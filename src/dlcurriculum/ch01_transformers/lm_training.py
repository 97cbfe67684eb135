"""Training chapter 1's language models: loss, AdamW groups, schedule, one step, the loop.

Ref: Loshchilov & Hutter 2019 (AdamW); Loshchilov & Hutter 2017 (SGDR, cosine decay);
nanoGPT `train.py` (warmup + cosine, decay only on matrices, gradient clipping).

Both experiments (and chapter 8's induction run) share `train_lm`. One step's batch is a
pure function of (seed, step), so a run resumed from a checkpoint sees exactly the batches
an uninterrupted run would have seen.
"""

import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import LMTrainConfig, TransformerConfig
from dlcurriculum.ch01_transformers.impl import load_impl
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.core.training import Stateful, TrainingSession


def lm_loss(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, ""]:
    """Mean next-token cross-entropy (nats): logits at p predict the token at p + 1.

    Equal to `F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), tokens[:, 1:].flatten())`
    (tested), with a leaner backward: see `NextTokenNLL`.
    """
    return NextTokenNLL.apply(logits, tokens)


class NextTokenNLL(torch.autograd.Function):
    """Mean next-token NLL whose backward writes the gradient into the saved log-probs.

    The gradient of the mean NLL with respect to the logits is (softmax - onehot) / n, zero
    at the last position (it predicts nothing). Exponentiating the saved log-probabilities
    in place, subtracting 1 at each target and scaling is two passes over memory already
    held; autograd's route through the slice, `nll_loss` and `log_softmax` allocates and
    fills three tensors the size of the logits. With the Shakespeare preset's 6,189-piece
    vocabulary the loss's forward and backward fall from 362 to 115 ms per step. A second
    backward through the same graph raises (the saved tensor was modified), never a wrong
    gradient.
    """

    @staticmethod
    def forward(ctx: Any, logits: Tensor, tokens: Tensor) -> Tensor:
        logp = torch.log_softmax(logits.float(), dim=-1)
        targets = tokens[:, 1:, None]
        ctx.save_for_backward(logp, targets)
        ctx.logits_dtype = logits.dtype
        return -logp[:, :-1].gather(-1, targets).mean()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_loss: Tensor) -> tuple[Tensor, None]:
        logp, targets = ctx.saved_tensors
        grad = logp.exp_()  # softmax
        grad[:, :-1].scatter_add_(-1, targets, torch.full_like(targets, -1, dtype=grad.dtype))
        grad[:, -1] = 0.0
        grad.mul_(grad_loss / targets.numel())
        return grad.to(ctx.logits_dtype), None


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
    model: nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.95),
    fused: bool = False,
) -> torch.optim.AdamW:
    """AdamW with weight decay on the weight matrices only (not biases or LayerNorm gains).

    Decaying a gain or a bias pulls it towards 0, which is not a simpler function; decaying
    matrices is what regularizes. `fused` updates each parameter in one kernel instead of a
    dozen (the same maths; the fast path uses it).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused or None)


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


def build_model(cfg: TransformerConfig, impl: str) -> nn.Module:
    """The reference Transformer, or the learner's when `impl` names a workspace.

    The learner's model.py imports Attention from the learner's attention.py (`dlc start`
    makes sibling imports relative), so every piece they wrote runs.
    """
    if not impl:
        return Transformer(cfg)
    return load_impl(impl).Transformer(cfg)


@dataclass
class LMTrainState:
    """What `train_lm` changes as it trains (checkpointed as "state")."""

    step: int = 0
    """Optimizer steps taken."""
    train_s: float = 0.0
    """Training seconds so far (evaluation excluded), across resumes."""
    last_loss: float = float("nan")
    """Mean training loss since the previous evaluation."""


def train_lm(
    cfg: LMTrainConfig,
    model: nn.Module,
    batch_at: Callable[[int], Tensor],
    evaluate: Callable[[], dict[str, float]],
    run_dir: Path,
    desc: str,
    progress_key: str,
) -> dict[str, Any]:
    """Train `model` for cfg.steps with warmup + cosine AdamW; log, checkpoint, resume.

    Args:
        cfg: optimization settings.
        model: freshly initialised (its weights are replaced when resuming).
        batch_at: the training batch of a step, on the model's device.
        evaluate: metrics at an evaluation point (keys like "eval/loss").
        run_dir: where metrics.jsonl and checkpoints/ go; an existing checkpoint is resumed.
        desc: progress bar label.
        progress_key: the evaluation metric shown on the progress bar.

    Returns:
        {"steps", "train_time_s", "final_train_loss", "tokens_per_s"}.
    """
    fused = cfg.fast_path and not cfg.impl  # as model_config: the learner's code runs plainly
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay, fused=fused)
    stateful: dict[str, Stateful] = {"model": model, "optimizer": optimizer}
    with TrainingSession(run_dir, LMTrainState(), cfg.steps, desc, stateful) as session:
        state = session.state
        resumed_s = state.train_s
        losses: list[float] = []
        tokens_seen = 0
        while state.step < cfg.steps:
            batch = batch_at(state.step)
            lr = lr_at(state.step, cfg.lr, cfg.warmup_steps, cfg.steps, cfg.min_lr)
            loss, grad_norm = train_step(model, optimizer, batch, lr, cfg.max_grad_norm)
            losses.append(loss)
            tokens_seen += batch.numel()
            state.step += 1
            session.bar.update(1)
            if state.step % cfg.eval_every == 0 or state.step == cfg.steps:
                with session.paused():  # evaluating and saving is not training time
                    row = {
                        "losses/train": sum(losses) / len(losses),
                        "charts/lr": lr,
                        "charts/grad_norm": grad_norm,
                        **evaluate(),
                    }
                    state.last_loss, losses = row["losses/train"], []
                    session.log(state.step, **row)
                    session.bar.set_postfix(
                        {
                            "loss": f"{row['losses/train']:.3f}",
                            progress_key: f"{row[progress_key]:.4f}",
                        }
                    )
                    session.checkpoint()
    fresh_s = state.train_s - resumed_s
    return {
        "steps": state.step,
        "train_time_s": state.train_s,
        "final_train_loss": state.last_loss,
        "tokens_per_s": tokens_seen / fresh_s if fresh_s > 0 else float("nan"),
    }
