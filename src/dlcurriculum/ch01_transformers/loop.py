"""The resumable training loop both chapter 1 experiments share, and their common config.

One step's batch is a pure function of (seed, step), so a run resumed from a checkpoint
sees exactly the batches an uninterrupted run would have seen.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch import Tensor, nn

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch01_transformers.training import lr_at, make_optimizer, train_step
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig, check, one_of, require
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.seed import rng_state, set_rng_state

SLUG = "ch01_transformers"


@dataclass(frozen=True)
class LMTrainConfig(RunConfig):
    """Model shape and optimization settings shared by the chapter's experiments."""

    d_model: int = 64
    """Width of the residual stream."""
    n_layers: int = 2
    """Number of transformer blocks."""
    n_heads: int = 4
    """Attention heads per block."""
    d_mlp: int = 256
    """Hidden width of each MLP."""
    attn_only: bool = False
    """Blocks without MLPs."""
    pos_embed: Literal["learned", "sinusoidal"] = "learned"
    """Learned or sinusoidal positional embeddings."""
    tie_embeddings: bool = False
    """Unembed with W_E transposed."""
    dropout: float = 0.0
    """Dropout on embeddings and sub-block outputs."""
    init_range: float = 0.02
    """Std of the initial weights (GPT-2's 0.02; larger shortens early plateaus)."""
    fast_path: bool = False
    """Fused kernels (SDPA, F.layer_norm): faster, same maths; always off with --impl."""
    steps: int = 1000
    """Optimizer steps."""
    batch_size: int = 64
    """Sequences per step."""
    lr: float = 1e-3
    """Peak learning rate (AdamW)."""
    min_lr: float = 1e-4
    """Learning rate at the end of the cosine decay."""
    warmup_steps: int = 100
    """Steps of linear warmup."""
    weight_decay: float = 0.01
    """AdamW weight decay on weight matrices."""
    max_grad_norm: float = 1.0
    """Clip the global gradient norm to this."""
    eval_every: int = 100
    """Steps between evaluations (and checkpoints)."""

    def __post_init__(self) -> None:
        check(self, "d_model", "n_layers", "n_heads", "d_mlp", "steps", "batch_size", ge=1)
        check(self, "eval_every", ge=1)
        check(self, "warmup_steps", "weight_decay", ge=0)
        check(self, "dropout", ge=0, lt=1)
        check(self, "init_range", "lr", "min_lr", "max_grad_norm", gt=0)
        one_of(self, "pos_embed", ("learned", "sinusoidal"))
        require(
            self.warmup_steps < self.steps,
            f"need warmup_steps < steps: got {self.warmup_steps} >= {self.steps}; "
            "lower warmup_steps",
        )
        require(
            self.min_lr <= self.lr,
            f"need min_lr <= lr (the cosine decays from lr to min_lr): got {self.min_lr} > "
            f"{self.lr}; lower min_lr",
        )
        self.model_config(2, 2)  # the model's own checks (e.g. d_model divisible by n_heads)

    def model_config(self, d_vocab: int, n_ctx: int) -> TransformerConfig:
        """The TransformerConfig these fields describe."""
        return TransformerConfig(
            d_vocab=d_vocab,
            n_ctx=n_ctx,
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_mlp=self.d_mlp,
            pos_embed=self.pos_embed,
            attn_only=self.attn_only,
            tie_embeddings=self.tie_embeddings,
            dropout=self.dropout,
            init_range=self.init_range,
            fast_path=self.fast_path and not self.impl,
        )


def build_model(cfg: TransformerConfig, impl: str) -> nn.Module:
    """The reference Transformer, or the learner's when `impl` names a workspace.

    The learner's model.py imports Attention from the learner's attention.py (`dlc start`
    makes sibling imports relative), so every piece they wrote runs.
    """
    if not impl:
        return Transformer(cfg)
    model: nn.Module = resolve(SLUG, impl).Transformer(cfg)
    return model


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
    optimizer = make_optimizer(model, cfg.lr, cfg.weight_decay)
    state: dict[str, Any] = {"step": 0, "train_s": 0.0, "last_loss": float("nan")}
    ckpt = runs.latest_checkpoint(run_dir)
    resumed_s = 0.0
    if ckpt is not None:
        saved = runs.load_checkpoint(ckpt)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"])
        state = saved["state"]
        resumed_s = state["train_s"]
    logger = runs.MetricLogger(run_dir, resume_step=state["step"] if ckpt else None)
    bar = runs.progress(cfg.steps, desc, initial=state["step"])
    clock = runs.Stopwatch(state["train_s"])
    losses: list[float] = []
    tokens_seen = 0
    step = state["step"]
    while step < cfg.steps:
        batch = batch_at(step)
        lr = lr_at(step, cfg.lr, cfg.warmup_steps, cfg.steps, cfg.min_lr)
        loss, grad_norm = train_step(model, optimizer, batch, lr, cfg.max_grad_norm)
        losses.append(loss)
        tokens_seen += batch.numel()
        step += 1
        bar.update(1)
        if step % cfg.eval_every == 0 or step == cfg.steps:
            state["train_s"] = clock.elapsed
            row = {
                "losses/train": sum(losses) / len(losses),
                "charts/lr": lr,
                "charts/grad_norm": grad_norm,
                **evaluate(),
            }
            state["step"], state["last_loss"], losses = step, row["losses/train"], []
            logger.log(step, **row)
            bar.set_postfix(
                {"loss": f"{row['losses/train']:.3f}", progress_key: f"{row[progress_key]:.4f}"}
            )
            runs.save_checkpoint(
                run_dir,
                step,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "rng": rng_state(),
                    "state": state,
                },
            )
            clock = runs.Stopwatch(state["train_s"])  # evaluation time is not training time
    bar.close()
    logger.close()
    fresh_s = state["train_s"] - resumed_s
    return {
        "steps": step,
        "train_time_s": state["train_s"],
        "final_train_loss": state["last_loss"],
        "tokens_per_s": tokens_seen / fresh_s if fresh_s > 0 else float("nan"),
    }
