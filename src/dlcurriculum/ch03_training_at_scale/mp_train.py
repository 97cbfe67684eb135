"""Model-parallel training runs (pipeline, tensor parallel) and their one-process reference.

Each worker returns, from its first step, the logits (where it has them) and the
gradients of the parameters it owns, keyed by the full model's parameter names, and then
the loss curve of `cfg.steps` Adam steps. `compare` checks them against `reference`, the
same model trained in one process.
"""

from typing import Any

import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.lm_training import lm_loss
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch03_training_at_scale.comm import Comm
from dlcurriculum.ch03_training_at_scale.config import ModelParallelConfig
from dlcurriculum.ch03_training_at_scale.dp_train import load_data
from dlcurriculum.ch03_training_at_scale.pipeline import PipelineStage, gpipe_step
from dlcurriculum.ch03_training_at_scale.tensor_parallel import (
    TensorParallelTransformer,
    full_gradient_slices,
)


def _batches(cfg: ModelParallelConfig) -> list[Tensor]:
    data = load_data("transformer", cfg.data, cfg.n_ctx)
    generator = torch.Generator().manual_seed(cfg.seed)
    return [data.batch(generator, cfg.batch_size)[0] for _ in range(cfg.steps)]


def _full_model(cfg: ModelParallelConfig) -> Transformer:
    torch.manual_seed(cfg.seed)
    return Transformer(cfg.transformer())


def reference(cfg: ModelParallelConfig) -> dict[str, Any]:
    """The one-process run: first-step logits and gradients, then the loss curve."""
    model = _full_model(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    out: dict[str, Any] = {"losses": []}
    for step, tokens in enumerate(_batches(cfg)):
        optimizer.zero_grad()
        logits = model(tokens)
        loss = lm_loss(logits, tokens)
        loss.backward()
        if step == 0:
            out["logits"] = logits.detach()
            out["grads"] = {
                n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None
            }
        optimizer.step()
        out["losses"].append(loss.item())
    return out


def pipeline_worker(comm: Comm, cfg: ModelParallelConfig) -> dict[str, Any]:
    """One GPipe stage: the first step's gradients of its parameters, and the loss curve."""
    stage = PipelineStage(_full_model(cfg), comm.rank, comm.world_size)
    owned = stage.owned_parameters()
    optimizer = torch.optim.Adam(owned.values(), lr=cfg.lr)
    out: dict[str, Any] = {"losses": [], "stage": comm.rank}
    for step, tokens in enumerate(_batches(cfg)):
        optimizer.zero_grad()
        loss, logits = gpipe_step(stage, comm, tokens, cfg.micro_batches)
        if step == 0:
            out["grads"] = {n: p.grad.clone() for n, p in owned.items() if p.grad is not None}
            out["logits"] = logits
        optimizer.step()
        out["losses"].append(loss)
    return out


def tensor_parallel_worker(comm: Comm, cfg: ModelParallelConfig) -> dict[str, Any]:
    """One tensor-parallel rank: first-step logits and gradients, and the loss curve."""
    model = TensorParallelTransformer(_full_model(cfg), comm)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    out: dict[str, Any] = {"losses": [], "rank": comm.rank}
    for step, tokens in enumerate(_batches(cfg)):
        optimizer.zero_grad()
        logits = model(tokens)
        loss = lm_loss(logits, tokens)
        loss.backward()
        if step == 0:
            out["logits"] = logits.detach()
            out["sharded_grads"] = {
                n: (g.clone(), idx)
                for n, (g, idx) in full_gradient_slices(model).items()
                if g is not None
            }
            out["replicated_grads"] = {
                n: p.grad.clone() for n, p in _replicated(model).items() if p.grad is not None
            }
        optimizer.step()
        out["losses"].append(loss.item())
    return out


def _replicated(model: TensorParallelTransformer) -> dict[str, nn.Parameter]:
    """Parameters every rank holds whole, under the full model's names."""
    names = {"embed.W_E", "pos_embed.W_pos", "ln_final.w", "ln_final.b", "unembed.W_U"}
    out = {n: p for n, p in model.named_parameters() if n in names}
    for i, block in enumerate(model.blocks):
        for n, p in (
            ("ln1.w", block.ln1.w),
            ("ln1.b", block.ln1.b),
            ("ln2.w", block.ln2.w),
            ("ln2.b", block.ln2.b),
            ("attn.b_O", block.b_O),
            ("mlp.b_out", block.b_out),
        ):
            out[f"blocks.{i}.{n}"] = p
    return out


def compare(ref: dict[str, Any], ranks: list[dict[str, Any]]) -> dict[str, float]:
    """Largest absolute differences to the one-process run: logits, gradients, losses, and
    how many of the model's parameters no rank returned a gradient for.

    Accepts what `pipeline_worker` or `tensor_parallel_worker` returned on every rank.
    """
    grad_diff = 0.0
    seen: set[str] = set()
    covered: set[str] = set()  # parameter names some rank reported a gradient (or shard) of
    for r in ranks:
        for n, g in r.get("grads", {}).items():
            grad_diff = max(grad_diff, (g - ref["grads"][n]).abs().max().item())
            seen.add(n)
            covered.add(n)
        for n, (g, idx) in r.get("sharded_grads", {}).items():
            grad_diff = max(grad_diff, (g - ref["grads"][n][idx]).abs().max().item())
            seen.add(f"{n}[{r['rank']}]")
            covered.add(n)
        for n, g in r.get("replicated_grads", {}).items():
            grad_diff = max(grad_diff, (g - ref["grads"][n]).abs().max().item())
            seen.add(n)
            covered.add(n)
    logits = [r["logits"] for r in ranks if r.get("logits") is not None]
    losses = [r["losses"] for r in ranks if any(r["losses"])]
    return {
        "max_logit_diff": max((x - ref["logits"]).abs().max().item() for x in logits),
        "max_grad_diff": grad_diff,
        "max_loss_diff": max(
            abs(a - b) for curve in losses for a, b in zip(curve, ref["losses"], strict=True)
        ),
        "gradients_compared": float(len(seen)),
        # a gradient no rank returned is never compared: the criterion needs none missing
        "gradients_missing": float(len(set(ref["grads"]) - covered)),
    }
