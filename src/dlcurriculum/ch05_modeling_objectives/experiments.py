"""`dlc run contrastive`: contrastive MNIST encoders judged by few-shot nearest-class similarity.

Ref: Chen et al. 2020 (SimCLR); Khosla et al. 2020 (SupCon).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

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
from dlcurriculum.core.config import RunConfig
from dlcurriculum.core.exercises import resolve
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import Criterion, RunRecord, Verdict
from dlcurriculum.core.seed import choose_device, rng_state, seed_everything, set_rng_state

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
    """NT-Xent temperature (1.0 beat 0.5, 0.3 and 0.2 at this short training; see README)."""
    supcon_temperature: float = 0.1
    """SupCon temperature."""
    train_size: int = 60_000
    """Training examples drawn from (the first n of the 60k, support removed)."""
    test_size: int = 10_000
    """Test queries (10k = the whole test set)."""
    baselines: bool = True
    """Also run the linear probe and the support-only supervised CNN."""
    target_simclr: float = 0.90
    """Success bar for SimCLR accuracy at k = 10."""
    target_supcon: float = 0.97
    """Success bar for SupCon accuracy at k = 10."""
    margin_over_pixels: float = 0.10
    """Both must beat raw-pixel similarity at k = 10 by at least this much."""
    time_budget_s: float = 900.0
    """Wall-time bar for the whole run."""

    def __post_init__(self) -> None:
        assert set(self.objectives) <= set(OBJECTIVES), f"objectives must be in {OBJECTIVES}"
        assert self.ks and min(self.ks) >= 1 and 10 in self.ks, "ks must include 10"
        assert 0 < self.test_size <= 10_000 and 0 < self.train_size <= 60_000
        assert self.simclr_temperature > 0 and self.supcon_temperature > 0


CONTRASTIVE_PRESETS = {
    "smoke": ContrastiveConfig(
        objectives=("simclr", "supcon"),
        ks=(1, 10),
        width=8,
        proj_dim=32,
        simclr_epochs=1,
        supervised_epochs=1,
        batch_size=128,
        train_size=2048,
        test_size=1000,
        # a few seconds of training: the bars only say "well above chance (10%)"
        target_simclr=0.25,
        target_supcon=0.25,
        margin_over_pixels=-1.0,
        time_budget_s=120.0,
    ),
    "quick": ContrastiveConfig(),
    "full": ContrastiveConfig(simclr_epochs=15, supervised_epochs=5, time_budget_s=3600.0),
}


def run_contrastive(cfg: ContrastiveConfig, run_dir: Path) -> Result:
    """Train each objective in turn; checkpoint after each, so a resumed run skips finished ones."""
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
    test_x = data.test_images[: cfg.test_size, None].to(device)
    test_y = data.test_labels[: cfg.test_size].to(device)
    state: dict[str, Any] = {"step": 0, "accuracy": {}, "train_s": {}}
    ckpt = runs.latest_checkpoint(run_dir)
    if ckpt is not None:
        saved = runs.load_checkpoint(ckpt)
        state = saved["state"]
        set_rng_state(saved["rng"])
    logger = runs.MetricLogger(run_dir, resume_step=state["step"] if ckpt else None)
    acc = state["accuracy"]
    if "raw pixels" not in acc:
        acc["raw pixels"] = few_shot_accuracy(
            test_x.flatten(1), test_y, support.flatten(2), cfg.ks, ns.nearest_class
        )
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
        test_z = embed(encoder, test_x, cfg.projection)
        support_z = embed(encoder, support.flatten(0, 1), cfg.projection).unflatten(
            0, support.shape[:2]
        )
        acc[objective] = few_shot_accuracy(test_z, test_y, support_z, cfg.ks, ns.nearest_class)
        logger.log(
            state["step"], **{f"eval/{objective}_k{k}": a for k, a in acc[objective].items()}
        )
        if cfg.baselines and objective == cfg.objectives[0]:
            acc[f"linear probe ({objective})"] = {
                k: (
                    linear_probe(
                        support_z[:, :k].flatten(0, 1),
                        torch.arange(10, device=device).repeat_interleave(k),
                        test_z,
                    )
                    == test_y
                )
                .float()
                .mean()
                .item()
                for k in cfg.ks
            }
        save_views(run_dir, objective, test_z, test_y, support_z, test_x, support, ns.nearest_class)
        runs.save_checkpoint(
            run_dir,
            state["step"],
            {"encoder": encoder.state_dict(), "state": state, "rng": rng_state()},
        )
    if cfg.baselines and "supervised CNN (support only)" not in acc:
        acc["supervised CNN (support only)"] = {
            k: (
                supervised_on_support(
                    support[:, :k].flatten(0, 1),
                    torch.arange(10, device=device).repeat_interleave(k),
                    test_x,
                    cfg.seed,
                    cfg.width,
                )
                == test_y
            )
            .float()
            .mean()
            .item()
            for k in cfg.ks
        }
    bar.close()
    logger.close()
    summary = {
        # JSON keys are strings: k is written as "10"
        "accuracy": {name: {str(k): a for k, a in row.items()} for name, row in acc.items()},
        "train_time_s": state["train_s"],
        "steps": state["step"],
        "wall_time_s": clock.elapsed,
        "device": str(device),
    }
    return finish(run_dir, summary)


def _at_k10(record: RunRecord, objective: str, target_key: str) -> Verdict:
    a = record.summary["accuracy"][objective]["10"]
    target = record.config[target_key]
    return Verdict(a >= target, f"{a:.2%} (target {target:.0%})")


def _above_pixels(record: RunRecord) -> Verdict:
    acc = record.summary["accuracy"]
    floor = acc["raw pixels"]["10"]
    learned = [acc[o]["10"] for o in record.config["objectives"] if o in ("simclr", "supcon")]
    if not learned:
        return Verdict(False, "not measured (neither simclr nor supcon was run)")
    margin = min(learned) - floor
    return Verdict(
        margin >= record.config["margin_over_pixels"],
        f"+{100 * margin:.1f} points over raw pixels ({floor:.2%})",
    )


def _in_budget(record: RunRecord) -> Verdict:
    wall, budget = record.summary["wall_time_s"], record.config["time_budget_s"]
    return Verdict(wall <= budget, f"{wall:.0f} s (budget {budget:.0f} s)")


CONTRASTIVE = ExperimentSpec(
    name="contrastive",
    title="Chapter 5: a contrastive MNIST encoder judged by few-shot nearest-class similarity",
    presets=CONTRASTIVE_PRESETS,
    run=run_contrastive,
    criteria=(
        Criterion(
            "SimCLR (no labels) few-shot accuracy at k = 10",
            lambda r: _at_k10(r, "simclr", "target_simclr"),
        ),
        Criterion(
            "SupCon few-shot accuracy at k = 10", lambda r: _at_k10(r, "supcon", "target_supcon")
        ),
        Criterion("both far above raw-pixel similarity (k = 10)", _above_pixels),
        Criterion("the run fits its time budget (15 min for quick)", _in_budget),
    ),
    figures=contrastive_figures,
    sections=contrastive_sections,
    next_steps=(
        "Lower `simclr_temperature` (e.g. `--set simclr_temperature=0.3`) and watch the k = 1 "
        "accuracy fall (the chapter page has our sweep); compare `--set projection=false`. "
        "Then `dlc start 5` to write NT-Xent, the augmentation and the nearest-class rule "
        "yourself."
    ),
)
