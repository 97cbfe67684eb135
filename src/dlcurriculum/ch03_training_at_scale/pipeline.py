"""Pipeline parallelism, GPipe style: consecutive layers on consecutive ranks, micro-batches.

Ref: Huang et al. 2019, "GPipe: Efficient Training of Giant Neural Networks using Pipeline
Parallelism", section 2.2 and figure 2.

Stage 0 holds the embeddings and the first blocks, the last stage the last blocks, the
final LayerNorm and the unembedding. A batch is cut into m micro-batches; each stage
runs the forward of every micro-batch, passing activations on with `send`, then the
backward of every micro-batch, passing the gradient of its input back. Gradients
accumulate over the micro-batches, so one optimizer step equals one step on the whole
batch; stages work at the same time on different micro-batches, and the idle "bubble"
is (stages - 1) / (m + stages - 1) of the step.
"""

import torch
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.lm_training import lm_loss
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch03_training_at_scale.comm import Comm
from dlcurriculum.core.errors import DlcError


def stage_blocks(n_layers: int, n_stages: int, stage: int) -> range:
    """Which blocks a stage holds: n_layers / n_stages consecutive ones.

    Raises:
        DlcError: the blocks cannot be split evenly over the stages.
    """
    if n_layers % n_stages != 0:
        raise DlcError(
            f"n_layers={n_layers} cannot be split evenly over {n_stages} pipeline stages: "
            f"use a multiple of {n_stages} layers"
        )
    per = n_layers // n_stages
    return range(stage * per, (stage + 1) * per)


class PipelineStage(nn.Module):
    """One stage's part of a Transformer; it shares the full model's parameters.

    Args:
        model: the whole transformer (every rank builds it from the same seed and keeps
            only its stage's modules in the optimizer).
        stage: this stage's index.
        n_stages: number of stages.
    """

    def __init__(self, model: Transformer, stage: int, n_stages: int):
        super().__init__()
        self.model, self.stage, self.n_stages = model, stage, n_stages
        self.blocks = [model.blocks[i] for i in stage_blocks(model.cfg.n_layers, n_stages, stage)]
        self.first, self.last = stage == 0, stage == n_stages - 1

    def owned_parameters(self) -> dict[str, nn.Parameter]:
        """The full model's parameters this stage computes gradients for, by name."""
        mine = {id(p) for b in self.blocks for p in b.parameters()}
        if self.first:
            mine |= {
                id(p) for m in (self.model.embed, self.model.pos_embed) for p in m.parameters()
            }
        if self.last:
            tail = [self.model.ln_final] + ([self.model.unembed] if self.model.unembed else [])
            mine |= {id(p) for m in tail for p in m.parameters()}
        return {n: p for n, p in self.model.named_parameters() if id(p) in mine}

    def forward(self, x: Tensor) -> Tensor:
        """tokens -> residual (first stage) ... residual -> logits (last stage)."""
        m = self.model
        resid = m.embed(x) + m.pos_embed(x.shape[1]) if self.first else x
        for block in self.blocks:
            resid = block(resid)
        return m.ln_final(resid) @ m.W_U if self.last else resid


def gpipe_step(
    stage: PipelineStage, comm: Comm, tokens: Tensor, micro_batches: int
) -> tuple[float, Tensor | None]:
    """Forward and backward of one batch through the pipeline; gradients land in .grad.

    Every rank passes the same `tokens` (the last stage needs them as targets). The loss
    of each micro-batch is divided by m, so the accumulated gradient is that of the mean
    loss over the whole batch.

    Returns:
        On the last stage, the batch's mean loss and the logits [batch, pos, d_vocab];
        on the other stages (0.0, None).
    """
    if tokens.shape[0] % micro_batches != 0:
        raise DlcError(
            f"batch of {tokens.shape[0]} cannot be cut into {micro_batches} equal micro-batches"
        )
    chunks = tokens.chunk(micro_batches)
    d_model, prev, nxt = stage.model.cfg.d_model, stage.stage - 1, stage.stage + 1
    inputs: list[Tensor] = []
    outputs: list[Tensor] = []
    total = 0.0
    logits: list[Tensor] = []
    # all forwards first (GPipe's schedule), keeping each micro-batch's graph alive
    for mb in chunks:
        if stage.first:
            x = mb
        else:
            x = torch.empty(*mb.shape, d_model, device=mb.device)
            comm.recv(x, prev)
            x.requires_grad_(True)
        out = stage(x)
        if stage.last:
            logits.append(out.detach())
            out = lm_loss(out, mb) / micro_batches
            total += out.item()
        else:
            comm.send(out.detach(), nxt)
        inputs.append(x)
        outputs.append(out)
    # then all backwards: receive d(loss)/d(output), send d(loss)/d(input) upstream
    for x, out in zip(inputs, outputs, strict=True):
        if stage.last:
            out.backward()
        else:
            grad = torch.empty_like(out)
            comm.recv(grad, nxt)
            out.backward(grad)
        if not stage.first:
            assert x.grad is not None
            comm.send(x.grad, prev)
    return total, torch.cat(logits) if stage.last else None


def bubble_fraction(n_stages: int, micro_batches: int) -> float:
    """Idle share of a GPipe step when every stage takes equal time (Huang et al., sec. 2.2)."""
    return (n_stages - 1) / (micro_batches + n_stages - 1)
