"""`dlc run contrastive`: contrastive MNIST encoders judged by few-shot nearest-class similarity.

Ref: Chen et al. 2020 (SimCLR); Khosla et al. 2020 (SupCon).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dlcurriculum.ch05_modeling_objectives.evaluation import embed, few_shot_accuracy, support_split
from dlcurriculum.ch05_modeling_objectives.model import Encoder
from dlcurriculum.ch05_modeling_objectives.report import (
    contrastive_figures,
    contrastive_sections,
    save_views,
)
from dlcurriculum.ch05_modeling_objectives.training import (
    OBJECTIVES,
    linear_probe,
    supervised_on_support,
    train_encoder,
)
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig, check, one_of, require
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import Criterion, RunRecord, Verdict, at_least, not_measured
from dlcurriculum.core.seed import choose_device, rng_state, seed_everything, set_rng_state
from dlcurriculum.data.mnist import MNIST_TEST, MNIST_TRAIN

SLUG = "ch05_modeling_objectives"


@dataclass(frozen=True)
class ContrastiveConfig(RunConfig):
    """Train contrastive encoders on MNIST and classify the test set by few-shot similarity."""

    objectives: tuple[str, ...] = OBJECTIVES
    """Objectives trained one after another: simclr (no labels), supcon, triplet."""
    ks: tuple[int, ...] = (1, 2, 5, 10, 50)
    """Support examples per class evaluated; max(ks) per class are removed from training."""
    width: int = 32
    """Channels of the encoder's first conv layer (chapter 0's CNN trunk)."""
    proj_dim: int = 64
    """Output size of the projection head the loss sees."""
    projection: bool = True
    """Evaluate on the projection head's output (True) or the trunk's features (False)."""
    simclr_epochs: int = 4
    """Passes over the training set for SimCLR (label-free, so slower to learn)."""
    supervised_epochs: int = 1
    """Passes for the label-using objectives (supcon, triplet); labels make them fast learners."""
    batch_size: int = 256
    """Images per step (each gives two views: 2x as many embeddings)."""
    lr: float = 4e-3
    """Peak learning rate of the one-cycle schedule (AdamW)."""
    simclr_temperature: float = 1.0
    """NT-Xent temperature. Chosen, with lr and the augmentation's magnitudes, by a sweep that
    read the TEST queries (before the validation split existed; see README); re-checked on
    the validation queries against 0.5 (README)."""
    supcon_temperature: float = 0.1
    """SupCon temperature (the paper's value; not tuned here)."""
    train_size: int = 55_000
    """Training examples: the first n of the 60k training images (support removed), at most
    60000 - val_size."""
    val_size: int = 5_000
    """Validation queries: the last n of the 60k training images, never trained on. Compare
    settings on their accuracy (summary "validation"), never on the test queries."""
    test_size: int = 10_000
    """Test queries (10k = the whole test set), read once for the criteria."""
    baselines: bool = True
    """Also run the linear probe and the support-only supervised CNN."""
    target_simclr: float = 0.90
    """Success bar for SimCLR test accuracy at k = 10."""
    target_supcon: float = 0.97
    """Success bar for SupCon test accuracy at k = 10."""
    margin_over_pixels: float = 0.10
    """Success bar: SimCLR and SupCon each beat raw-pixel similarity at k = 10 (test) by at
    least this much accuracy."""
    time_budget_s: float = 0.0
    """Wall-time bar for the whole run (0 = none: the time criterion is N/A)."""

    def __post_init__(self) -> None:
        require(len(self.objectives) > 0, f"objectives must not be empty: choose from {OBJECTIVES}")
        one_of(self, "objectives", OBJECTIVES)
        check(self, "ks", "width", "proj_dim", "simclr_epochs", "supervised_epochs", ge=1)
        check(self, "batch_size", ge=2)  # each image's negatives are the batch's other images
        check(self, "lr", "simclr_temperature", "supcon_temperature", gt=0)
        check(self, "train_size", ge=1, le=MNIST_TRAIN)
        check(self, "val_size", ge=0, lt=MNIST_TRAIN)
        check(self, "test_size", ge=1, le=MNIST_TEST)
        check(self, "target_simclr", "target_supcon", "margin_over_pixels", ge=0, le=1)
        check(self, "time_budget_s", ge=0)
        require(10 in self.ks, f"ks must include 10 (the criteria read k = 10), got {self.ks}")
        require(
            self.train_size + self.val_size <= MNIST_TRAIN,
            f"train_size + val_size must be at most {MNIST_TRAIN}: got {self.train_size} + "
            f"{self.val_size}; validation is the last val_size training images and must not "
            "overlap the first train_size (lower one of them)",
        )
        support = 10 * max(self.ks)
        require(
            self.train_size - support >= self.batch_size,
            f"train_size ({self.train_size}) must hold the support set of 10 * max(ks) = "
            f"{support} images and at least one batch_size ({self.batch_size}) more: raise "
            "train_size or lower ks or batch_size",
        )


CONTRASTIVE_PRESETS = {
    # smoke proves that the code runs; it keeps the real bars (it is not judged)
    "smoke": ContrastiveConfig(
        objectives=("simclr", "supcon"),
        ks=(1, 10),
        width=8,
        proj_dim=32,
        simclr_epochs=1,
        supervised_epochs=1,
        batch_size=128,
        train_size=2048,
        val_size=1000,
        test_size=1000,
    ),
    "quick": ContrastiveConfig(time_budget_s=900.0),
    "full": ContrastiveConfig(simclr_epochs=15, supervised_epochs=5, time_budget_s=3600.0),
}


def _per_k(
    predict: Callable[[Tensor, Tensor], Tensor],
    support: Tensor,
    query_labels: Tensor,
    ks: tuple[int, ...],
) -> dict[int, float]:
    """Accuracy of a baseline fitted on the first k support examples per class, for each k.

    Args:
        predict: (support [n, ...], support labels [n]) -> predicted class per query.
        support: [class, k_max, ...] support examples (images or embeddings).
    """
    n_classes = support.shape[0]
    out = {}
    for k in ks:
        s_labels = torch.arange(n_classes, device=support.device).repeat_interleave(k)
        pred = predict(support[:, :k].flatten(0, 1), s_labels)
        out[k] = (pred == query_labels).float().mean().item()
    return out


def _validation(
    encoder: Encoder,
    objective: str,
    val_x: Tensor,
    val_y: Tensor,
    support: Tensor,
    few_shot: Callable[[Tensor, Tensor, Tensor], dict[int, float]],
) -> dict[str, dict[int, float]]:
    """Validation accuracy on the projection head's outputs and on the trunk's features.

    Both spaces are scored whatever `projection` is, so the choice between them is made
    on validation queries.
    """
    out = {}
    for projection, name in ((True, objective), (False, f"{objective} (trunk features)")):
        support_z = embed(encoder, support.flatten(0, 1), projection)
        out[name] = few_shot(
            embed(encoder, val_x, projection), val_y, support_z.unflatten(0, support.shape[:2])
        )
    return out


def _as_json(table: dict[str, dict[int, float]]) -> dict[str, dict[str, float]]:
    """JSON keys are strings: k is written as "10"."""
    return {name: {str(k): a for k, a in row.items()} for name, row in table.items()}


def run_contrastive(cfg: ContrastiveConfig, run_dir: Path) -> Result:
    """Train each objective in turn; checkpoint after each, so a resumed run skips finished ones.

    Each encoder is scored on the validation queries (held-out training images, for
    comparing settings) and on the test queries (for the criteria); nothing in the run is
    chosen by either.
    """
    from dlcurriculum.data import load_mnist

    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)  # small encoders: the CPU is the target, a GPU is faster
    ns = resolve(SLUG, cfg.impl)
    data = load_mnist("float32")
    images, labels = data.train_images[: cfg.train_size, None], data.train_labels[: cfg.train_size]
    support_idx, rest = support_split(
        labels, max(cfg.ks), torch.Generator().manual_seed(cfg.seed + 7)
    )
    support = images[support_idx].to(device)  # [class, k_max, 1, 28, 28]
    train_x, train_y = images[rest].to(device), labels[rest].to(device)
    # validation: the last val_size training images, disjoint from train_size's first ones
    val_x = data.train_images[len(data.train_images) - cfg.val_size :, None].to(device)
    val_y = data.train_labels[len(data.train_labels) - cfg.val_size :].to(device)
    test_x = data.test_images[: cfg.test_size, None].to(device)
    test_y = data.test_labels[: cfg.test_size].to(device)
    state: dict[str, Any] = {
        "step": 0,
        "accuracy": {},
        "validation": {},
        "train_s": {},
        "elapsed_s": 0.0,
    }
    ckpt = runs.latest_checkpoint(run_dir)
    if ckpt is not None:
        saved = runs.load_checkpoint(ckpt)
        state = saved["state"]
        set_rng_state(saved["rng"])
    # a resumed run's wall time: the checkpointed pieces plus this one (work lost after the
    # last checkpoint is redone here, so the total compares with an uninterrupted run)
    elapsed_before = state["elapsed_s"]
    logger = runs.MetricLogger(run_dir, resume_step=state["step"] if ckpt else None)
    acc, val = state["accuracy"], state["validation"]

    def few_shot(queries: Tensor, query_labels: Tensor, support_z: Tensor) -> dict[int, float]:
        return few_shot_accuracy(queries, query_labels, support_z, cfg.ks, ns.nearest_class)

    if "raw pixels" not in acc:
        acc["raw pixels"] = few_shot(test_x.flatten(1), test_y, support.flatten(2))
        if cfg.val_size:
            val["raw pixels"] = few_shot(val_x.flatten(1), val_y, support.flatten(2))
    steps_per_epoch = len(train_x) // cfg.batch_size
    total_steps = steps_per_epoch * sum(
        cfg.simclr_epochs if o == "simclr" else cfg.supervised_epochs for o in cfg.objectives
    )
    bar = runs.progress(total_steps, "contrastive", initial=state["step"])
    for objective in cfg.objectives:
        if objective in acc:
            continue  # finished before an interruption
        encoder = Encoder(cfg.width, cfg.proj_dim).to(device)
        start, objective_clock = state["step"], runs.Stopwatch()

        def log(step: int, loss: float, objective: str = objective, start: int = start) -> None:
            logger.log(start + step, **{f"losses/{objective}": loss})
            bar.update(start + step - bar.n)
            bar.set_postfix({objective: f"{loss:.3f}"})

        state["step"] += train_encoder(
            objective,
            encoder,
            train_x,
            train_y,
            epochs=cfg.simclr_epochs if objective == "simclr" else cfg.supervised_epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            temperature=cfg.simclr_temperature if objective == "simclr" else cfg.supcon_temperature,
            seed=cfg.seed,
            ns=ns,
            log=log,
        )
        state["train_s"][objective] = objective_clock.elapsed
        if cfg.val_size:
            val.update(_validation(encoder, objective, val_x, val_y, support, few_shot))
            logger.log(
                state["step"],
                **{f"eval/val_{objective}_k{k}": a for k, a in val[objective].items()},
            )
        test_z = embed(encoder, test_x, cfg.projection)
        support_z = embed(encoder, support.flatten(0, 1), cfg.projection).unflatten(
            0, support.shape[:2]
        )
        acc[objective] = few_shot(test_z, test_y, support_z)
        logger.log(
            state["step"], **{f"eval/{objective}_k{k}": a for k, a in acc[objective].items()}
        )
        if cfg.baselines and objective == cfg.objectives[0]:
            probe = partial(linear_probe, queries=test_z)
            acc[f"linear probe ({objective})"] = _per_k(probe, support_z, test_y, cfg.ks)
        save_views(run_dir, objective, test_z, test_y, support_z, test_x, support, ns.nearest_class)
        state["elapsed_s"] = elapsed_before + clock.elapsed
        runs.save_checkpoint(
            run_dir,
            state["step"],
            {"encoder": encoder.state_dict(), "state": state, "rng": rng_state()},
        )
    if cfg.baselines and "supervised CNN (support only)" not in acc:
        cnn = partial(supervised_on_support, queries=test_x, seed=cfg.seed, width=cfg.width)
        acc["supervised CNN (support only)"] = _per_k(cnn, support, test_y, cfg.ks)
    bar.close()
    logger.close()

    summary = {
        "accuracy": _as_json(acc),
        "validation": _as_json(val),
        "train_time_s": state["train_s"],
        "steps": state["step"],
        "wall_time_s": elapsed_before + clock.elapsed,
        "resumed": ckpt is not None,
        "device": str(device),
    }
    return finish(run_dir, summary)


def _above_pixels(record: RunRecord) -> Verdict:
    """SimCLR and SupCon each beat raw pixels by the margin; N/A unless both were trained."""
    acc = record.summary["accuracy"]
    missing = [o for o in ("simclr", "supcon") if o not in acc]
    if missing:
        return not_measured(f"{' and '.join(missing)} not trained in this run (objectives)")
    floor = acc["raw pixels"]["10"]
    margins = {o: acc[o]["10"] - floor for o in ("simclr", "supcon")}
    return Verdict(
        min(margins.values()) >= record.config["margin_over_pixels"],
        ", ".join(f"{o} {100 * m:+.1f} points" for o, m in margins.items())
        + f" over raw pixels ({floor:.1%})",
    )


BUDGET = "wall time of the run ≤ time_budget_s = {time_budget_s:.0f} s (0 = no budget)"


def in_budget(record: RunRecord) -> Verdict:
    """Wall time within time_budget_s; N/A when the config sets no budget (0)."""
    wall, budget = record.summary["wall_time_s"], record.config["time_budget_s"]
    if not budget:
        return not_measured(f"no time budget set (--set time_budget_s=...); took {wall:.0f} s")
    return Verdict(wall <= budget, f"{wall:.0f} s")


CONTRASTIVE = ExperimentSpec(
    name="contrastive",
    title="Chapter 5: a contrastive MNIST encoder judged by few-shot nearest-class similarity",
    presets=CONTRASTIVE_PRESETS,
    run=run_contrastive,
    criteria=(
        at_least(
            "SimCLR (no labels) few-shot test accuracy at k = 10",
            "accuracy.simclr.10",
            "target_simclr",
            "{:.2%}",
        ),
        at_least(
            "SupCon few-shot test accuracy at k = 10",
            "accuracy.supcon.10",
            "target_supcon",
            "{:.2%}",
        ),
        Criterion(
            "SimCLR and SupCon each beat raw-pixel similarity (test, k = 10) by ≥ "
            "{margin_over_pixels:.1%} (absolute)",
            _above_pixels,
        ),
        Criterion(BUDGET, in_budget),
    ),
    figures=contrastive_figures,
    sections=contrastive_sections,
    next_steps=(
        "Lower `simclr_temperature` (e.g. `--set simclr_temperature=0.3`) and watch the k = 1 "
        "validation accuracy fall; the validation table also compares the projection head "
        "with the trunk's features. Compare settings on validation, never on test. "
        "Then `dlc start 5` to write NT-Xent, the augmentation and the nearest-class rule "
        "yourself."
    ),
)
