"""What residual connections buy: the reversal task at fixed depth, with and without them.

Our answers to the chapter's first-principles questions (`dlc solution 1 first_principles`,
from first_principles_answers.md) quote this experiment's numbers. Run it with

    python -m dlcurriculum.ch01_transformers.ablations

Ref: He et al. 2016, "Deep Residual Learning for Image Recognition" (the degradation
problem: deeper plain networks train *worse*, not just slower).
"""

import argparse
import time
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from dlcurriculum.ch01_transformers.attention import LayerKV
from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.lm_training import lm_loss, lr_at, make_optimizer, train_step
from dlcurriculum.ch01_transformers.model import Transformer, TransformerBlock
from dlcurriculum.ch01_transformers.reversal import evaluate_reversal, reversal_batch
from dlcurriculum.core.report import markdown_table


class NoResidualBlock(TransformerBlock):
    """The same block with both skip connections removed: x -> mlp(ln2(attn(ln1(x))))."""

    def forward(
        self, resid_pre: Float[Tensor, "batch pos d_model"], cache: LayerKV | None = None
    ) -> Float[Tensor, "batch pos d_model"]:
        """Each sub-block's output replaces its input instead of being added to it."""
        attn_out = self.attn(self.ln1(resid_pre), cache)
        if self.mlp is None or self.ln2 is None:
            return attn_out
        return self.mlp(self.ln2(attn_out))


def make_model(cfg: TransformerConfig, residual: bool) -> Transformer:
    """A Transformer, with its blocks swapped for NoResidualBlock when `residual` is False."""
    model = Transformer(cfg)
    if not residual:
        model.blocks = nn.ModuleList([NoResidualBlock(cfg) for _ in range(cfg.n_layers)])
    return model


@dataclass(frozen=True)
class AblationResult:
    """One training run of the ablation."""

    n_layers: int
    residual: bool
    final_loss: float
    second_half_accuracy: float
    first_half_accuracy: float
    grad_ratio_at_init: float
    """|grad W_Q| of the first block over that of the last block, at initialization."""
    seconds: float


def _grad_ratio(model: Transformer, tokens: Tensor) -> float:
    model.zero_grad()
    lm_loss(model(tokens), tokens).backward()
    blocks: list[Any] = list(model.blocks)
    first, last = blocks[0].attn.W_Q.grad, blocks[-1].attn.W_Q.grad
    assert first is not None and last is not None
    ratio = (first.norm() / last.norm()).item()
    model.zero_grad()
    return ratio


def run_one(
    n_layers: int, residual: bool, steps: int, seed: int = 0, seq_len: int = 16, n_symbols: int = 32
) -> AblationResult:
    """Train one model on reversal (the quick preset's width and schedule) and measure it."""
    torch.manual_seed(seed)
    cfg = TransformerConfig(
        d_vocab=n_symbols + 1,
        n_ctx=2 * seq_len + 1,
        d_model=64,
        n_layers=n_layers,
        n_heads=4,
        d_mlp=256,
    )
    model = make_model(cfg, residual)
    optimizer = make_optimizer(model, lr=1e-3, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    ratio = _grad_ratio(model, reversal_batch(64, seq_len, n_symbols, g))
    start = time.perf_counter()
    losses = []
    for step in range(steps):
        lr = lr_at(step, 1e-3, min(100, steps // 10), steps, 1e-4)
        loss, _ = train_step(model, optimizer, reversal_batch(64, seq_len, n_symbols, g), lr, 1.0)
        losses.append(loss)
    acc = evaluate_reversal(model, 2000, seq_len, n_symbols)
    tail = losses[-max(1, steps // 10) :]
    return AblationResult(
        n_layers=n_layers,
        residual=residual,
        final_loss=sum(tail) / len(tail),
        second_half_accuracy=acc["second_half_accuracy"],
        first_half_accuracy=acc["first_half_accuracy"],
        grad_ratio_at_init=ratio,
        seconds=time.perf_counter() - start,
    )


def table(results: list[AblationResult]) -> str:
    """The results as a markdown table."""
    rows = [
        (
            r.n_layers,
            "yes" if r.residual else "no",
            f"{r.final_loss:.3f}",
            f"{r.second_half_accuracy:.1%}",
            f"{r.first_half_accuracy:.1%}",
            f"{r.grad_ratio_at_init:.3g}",
            f"{r.seconds:.0f}",
        )
        for r in results
    ]
    header = [
        "layers",
        "residual",
        "final train loss",
        "reversed-half acc.",
        "random-half acc.",
        "grad ratio first/last at init",
        "train s",
    ]
    return markdown_table(header, rows)


def main() -> None:
    """Command-line entry point: print the ablation table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 8])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = [run_one(d, res, args.steps, args.seed) for d in args.depths for res in (True, False)]
    print(table(results))


if __name__ == "__main__":
    main()
