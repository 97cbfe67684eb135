"""`dlc run contrastive`: contrastive MNIST encoders judged by few-shot nearest-class similarity.

Ref: Chen et al. 2020 (SimCLR); Khosla et al. 2020 (SupCon).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from torch import Tensor

from dlcurriculum.ch05_modeling_objectives.config import PRESETS, ContrastiveConfig
from dlcurriculum.ch05_modeling_objectives.evaluation import embed, few_shot_accuracy, support_split
from dlcurriculum.ch05_modeling_objectives.generative_experiment import run_ddpm, run_vae
from dlcurriculum.ch05_modeling_objectives.generative_report import (
    generative_figures,
    generative_sections,
)
from dlcurriculum.ch05_modeling_objectives.impl import load_impl
from dlcurriculum.ch05_modeling_objectives.model import Encoder
from dlcurriculum.ch05_modeling_objectives.report import (
    CONTRASTIVE_CRITERIA,
    DDPM_CRITERIA,
    VAE_CRITERIA,
    contrastive_figures,
    contrastive_sections,
    save_views,
)
from dlcurriculum.ch05_modeling_objectives.training import (
    linear_probe,
    supervised_on_support,
    train_encoder,
)
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.seed import choose_device, seed_everything
from dlcurriculum.core.training import TrainingSession

SLUG = "ch05_modeling_objectives"


@dataclass
class ContrastiveState:
    """What the contrastive run has done: a checkpoint's "state" (the same keys as before)."""

    step: int = 0
    accuracy: dict[str, dict[int, float]] = field(default_factory=dict)
    """Few-shot test accuracy by method and k."""
    validation: dict[str, dict[int, float]] = field(default_factory=dict)
    train_s: dict[str, float] = field(default_factory=dict)
    """Training seconds of each objective."""
    elapsed_s: float = 0.0
    """Wall time of the checkpointed pieces."""


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
    ns = load_impl(cfg.impl)
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
    steps_per_epoch = len(train_x) // cfg.batch_size
    total_steps = steps_per_epoch * sum(
        cfg.simclr_epochs if o == "simclr" else cfg.supervised_epochs for o in cfg.objectives
    )
    session = TrainingSession(
        run_dir, ContrastiveState(), total_steps, "contrastive", clock="elapsed_s"
    )
    state = session.state
    # a resumed run's wall time: the checkpointed pieces plus this one (work lost after the
    # last checkpoint is redone here, so the total compares with an uninterrupted run)
    elapsed_before = state.elapsed_s
    acc, val = state.accuracy, state.validation

    def few_shot(queries: Tensor, query_labels: Tensor, support_z: Tensor) -> dict[int, float]:
        return few_shot_accuracy(queries, query_labels, support_z, cfg.ks, ns.nearest_class)

    if "raw pixels" not in acc:
        acc["raw pixels"] = few_shot(test_x.flatten(1), test_y, support.flatten(2))
        if cfg.val_size:
            val["raw pixels"] = few_shot(val_x.flatten(1), val_y, support.flatten(2))
    bar = session.bar
    for objective in cfg.objectives:
        if objective in acc:
            continue  # finished before an interruption
        encoder = Encoder(cfg.width, cfg.proj_dim).to(device)
        start, objective_clock = state.step, runs.Stopwatch()

        def log(step: int, loss: float, objective: str = objective, start: int = start) -> None:
            session.log(start + step, **{f"losses/{objective}": loss})
            bar.update(start + step - bar.n)
            bar.set_postfix({objective: f"{loss:.3f}"})

        state.step += train_encoder(
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
        state.train_s[objective] = objective_clock.elapsed
        if cfg.val_size:
            val.update(_validation(encoder, objective, val_x, val_y, support, few_shot))
            session.log(
                state.step,
                **{f"eval/val_{objective}_k{k}": a for k, a in val[objective].items()},
            )
        test_z = embed(encoder, test_x, cfg.projection)
        support_z = embed(encoder, support.flatten(0, 1), cfg.projection).unflatten(
            0, support.shape[:2]
        )
        acc[objective] = few_shot(test_z, test_y, support_z)
        session.log(state.step, **{f"eval/{objective}_k{k}": a for k, a in acc[objective].items()})
        if cfg.baselines and objective == cfg.objectives[0]:
            probe = partial(linear_probe, queries=test_z)
            acc[f"linear probe ({objective})"] = _per_k(probe, support_z, test_y, cfg.ks)
        save_views(run_dir, objective, test_z, test_y, support_z, test_x, support, ns.nearest_class)
        state.elapsed_s = elapsed_before + clock.elapsed
        session.checkpoint(encoder=encoder.state_dict())
    if cfg.baselines and "supervised CNN (support only)" not in acc:
        cnn = partial(supervised_on_support, queries=test_x, seed=cfg.seed, width=cfg.width)
        acc["supervised CNN (support only)"] = _per_k(cnn, support, test_y, cfg.ks)
    session.close()

    summary = {
        "accuracy": _as_json(acc),
        "validation": _as_json(val),
        "train_time_s": state.train_s,
        "steps": state.step,
        "wall_time_s": elapsed_before + clock.elapsed,
        "resumed": session.resumed,
        "device": str(device),
    }
    return finish(run_dir, summary)


CONTRASTIVE = ExperimentSpec(
    name="contrastive",
    title="Chapter 5: a contrastive MNIST encoder judged by few-shot nearest-class similarity",
    presets=PRESETS["contrastive"],
    run=run_contrastive,
    criteria=CONTRASTIVE_CRITERIA,
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

VAE = ExperimentSpec(
    name="vae",
    title="Chapter 5 extra: a variational autoencoder on MNIST",
    presets=PRESETS["vae"],
    run=run_vae,
    exercises=(),  # an extra beyond the exercise: reference code only
    criteria=VAE_CRITERIA,
    figures=generative_figures,
    sections=generative_sections,
    next_steps="Try `--set latent=2` and look at how the samples blur; raise `epochs` and "
    "watch the ELBO's two terms trade off in the loss figure.",
)

DDPM = ExperimentSpec(
    name="ddpm",
    title="Chapter 5 extra: a minimal denoising diffusion model (DDPM) on MNIST",
    presets=PRESETS["ddpm"],
    run=run_ddpm,
    exercises=(),  # an extra beyond the exercise: reference code only
    criteria=DDPM_CRITERIA,
    figures=generative_figures,
    sections=generative_sections,
    next_steps="Try `--set n_steps=50 beta_end=0.4` (coarser noising) or more `train_steps`, "
    "and compare the samples and the Frechet distance.",
)
