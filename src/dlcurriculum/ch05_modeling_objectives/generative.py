"""Extras, `dlc run vae` and `dlc run ddpm`: the chapter's optional reading made concrete.

Two generative objectives on MNIST, each trained from scratch and judged by its samples
(see sample_quality.py): a VAE (the ELBO) and a minimal DDPM (denoising at every noise
level). They are smaller than the contrastive exercise and are not part of the
curriculum's exercise; the criteria only say "these are digits, not noise".

Ref: Kingma & Welling 2014 (VAE); Ho et al. 2020 (DDPM).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch05_modeling_objectives import diffusion
from dlcurriculum.ch05_modeling_objectives.experiments import BUDGET, in_budget
from dlcurriculum.ch05_modeling_objectives.generative_report import (
    generative_figures,
    generative_sections,
)
from dlcurriculum.ch05_modeling_objectives.sample_quality import (
    digit_classifier,
    pixel_noise,
    score_samples,
)
from dlcurriculum.ch05_modeling_objectives.vae import VAE, evaluate_elbo, train_vae
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig, check, require
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    at_least,
    at_most,
    not_measured,
)
from dlcurriculum.core.runs import atomic_open
from dlcurriculum.core.seed import choose_device, seed_everything
from dlcurriculum.data.mnist import MNIST_TEST, MNIST_TRAIN

N_SHOWN = 64  # samples drawn in the report's grid
# The test ELBO's reconstruction term is at most minus the test images' mean Bernoulli
# entropy, 45.5 nats, so no VAE can meet a target_elbo above this.
ELBO_CEILING = -45.5


@dataclass(frozen=True)
class SampleBars(RunConfig):
    """Fields both generative extras share: the data, the sample judge and the bars."""

    train_size: int = 60_000
    """Training images (the first n of the 60k)."""
    n_samples: int = 500
    """Samples scored by the classifier (the first 64 are shown)."""
    classifier_steps: int = 300
    """Training steps of the judging CNN (chapter 0's, width 16)."""
    min_judge_accuracy: float = 0.95
    """The judging CNN's test accuracy must reach this for its view of the samples to count;
    below it the two sample criteria are N/A (a poor judge can call noise ten digits)."""
    target_coverage: int = 9
    """Bar for the number of digits making up at least 2% of the samples (no mode collapse)."""
    max_frechet_ratio: float = 0.4
    """Bar: Frechet distance of samples at most this fraction of pixel noise's."""
    time_budget_s: float = 0.0
    """Wall-time bar for the whole run (0 = none: the time criterion is N/A)."""

    def __post_init__(self) -> None:
        check(self, "train_size", ge=1, le=MNIST_TRAIN)
        # the samples' Frechet distance is set beside as many real test images (after the
        # first 2000, the reference) and needs two of them for a covariance
        check(self, "n_samples", ge=2, le=MNIST_TEST - 2000)
        check(self, "classifier_steps", ge=1)
        check(self, "min_judge_accuracy", ge=0, le=1)
        check(self, "target_coverage", ge=0, le=10)
        check(self, "max_frechet_ratio", "time_budget_s", ge=0)


@dataclass(frozen=True)
class VAEConfig(SampleBars):
    """Train a VAE on MNIST and judge its samples from the prior."""

    latent: int = 16
    """Size of the latent code z."""
    hidden: int = 400
    """Width of the encoder's and decoder's hidden layer."""
    epochs: int = 10
    """Passes over the training set."""
    batch_size: int = 128
    """Images per step."""
    lr: float = 1e-3
    """Adam's learning rate."""
    target_elbo: float = -112.0
    """Bar for the test ELBO, nats per image (higher is better)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self, "latent", "hidden", "epochs", "batch_size", ge=1)
        check(self, "lr", gt=0)
        check(self, "target_elbo", le=ELBO_CEILING)
        require(
            self.train_size >= self.batch_size,
            f"train_size ({self.train_size}) must be at least batch_size ({self.batch_size}) "
            "for one step per epoch: raise train_size or lower batch_size",
        )


@dataclass(frozen=True)
class DDPMConfig(SampleBars):
    """Train a minimal DDPM on MNIST and judge its samples."""

    n_steps: int = 200
    """Diffusion steps T (DDPM used 1000; fewer make sampling 5x cheaper)."""
    beta_start: float = 5e-4
    """First noise variance (DDPM's 1e-4 scaled by 1000 / T)."""
    beta_end: float = 0.1
    """Last noise variance (DDPM's 0.02 scaled by 1000 / T)."""
    width: int = 16
    """Channels of the denoiser at 28x28 (twice as many at 14x14 and 7x7)."""
    train_steps: int = 2000
    """Optimizer steps (3000 gave a slightly lower Frechet distance but ~600 s on a busy core)."""
    batch_size: int = 64
    """Images per step."""
    lr: float = 2e-3
    """Peak learning rate (Adam, warm-up then cosine decay)."""
    n_samples: int = 256
    """Samples scored (each takes n_steps forward passes)."""
    target_test_loss: float = 0.05
    """Bar for the held-out noise-prediction MSE (predicting zero noise gives 1.0)."""
    max_frechet_ratio: float = 0.1
    """Bar: Frechet distance of samples at most this fraction of pixel noise's (sharper
    than the VAE's blurry means, so a tighter bar)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self, "n_steps", ge=2)
        check(self, "beta_start", "beta_end", gt=0, lt=1)
        check(self, "width", ge=8)
        check(self, "train_steps", "batch_size", ge=1)
        check(self, "lr", gt=0)
        check(self, "target_test_loss", ge=0)
        require(
            self.beta_start < self.beta_end,
            f"beta_start ({self.beta_start}) must be below beta_end ({self.beta_end}): the "
            "noise grows along the chain",
        )
        require(
            self.width % 8 == 0,
            f"width must be a multiple of 8 (the denoiser's GroupNorm has 8 groups), got "
            f"{self.width}",
        )


def _data(cfg: SampleBars, device: torch.device) -> dict[str, torch.Tensor]:
    from dlcurriculum.data import load_mnist

    data = load_mnist("float32")
    return {
        "x": data.train_images[: cfg.train_size, None].to(device),
        "y": data.train_labels[: cfg.train_size].to(device),
        "test_x": data.test_images[:, None].to(device),
        "test_y": data.test_labels.to(device),
    }


def _judge(cfg: SampleBars, data: dict, samples: torch.Tensor) -> dict[str, Any]:
    """Scores of the samples and of the two yardsticks, with the same judging CNN."""
    classifier = digit_classifier(data["x"], data["y"], cfg.seed, cfg.classifier_steps)
    n = len(samples)
    reference, held_out = data["test_x"][:2000], data["test_x"][2000 : 2000 + n]
    noise = pixel_noise(data["x"].mean(0), n, torch.Generator().manual_seed(cfg.seed))
    test_pred = torch.cat([classifier(data["test_x"][i : i + 1000]).argmax(1) for i in (0, 1000)])
    return {
        "samples": score_samples(classifier, samples, reference),
        "real test images": score_samples(classifier, held_out, reference),
        "pixel noise": score_samples(classifier, noise, reference),
        "judge_accuracy": (test_pred == data["test_y"][:2000]).float().mean().item(),
    }


def _save_views(run_dir: Path, views: dict[str, torch.Tensor]) -> None:
    with atomic_open(run_dir / "views" / "samples.pt", "wb") as f:
        # clone: a slice would drag its whole parent tensor (the test set) into the file
        torch.save({k: v.cpu().clone() for k, v in views.items()}, f)


def run_vae(cfg: VAEConfig, run_dir: Path) -> Result:
    """Train the VAE, then score samples from the prior; one run, no mid-run checkpoints."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    data = _data(cfg, device)
    model = VAE(cfg.latent, cfg.hidden).to(device)
    total = cfg.epochs * (cfg.train_size // cfg.batch_size)
    with runs.MetricLogger(run_dir) as logger, runs.progress(total, "vae") as bar:

        def log(step: int, m: dict[str, float]) -> None:
            logger.log(step, **{f"losses/{k}": v for k, v in m.items()})
            bar.set_postfix(elbo=f"{m['elbo']:.1f}")

        train_vae(
            model,
            data["x"],
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            seed=cfg.seed,
            log=log,
            on_step=lambda: bar.update(1),
        )
        test = evaluate_elbo(model, data["test_x"], cfg.seed)
        logger.log(total, **{f"eval/{k}": v for k, v in test.items()})
    checkpoint = runs.save_checkpoint(run_dir, total, {"model": model.state_dict()})
    g = torch.Generator().manual_seed(cfg.seed + 1)
    samples = model.sample(cfg.n_samples, g)
    with torch.no_grad():
        recon = torch.sigmoid(model.decode(model.encode(data["test_x"][:16])[0])).view(
            16, 1, 28, 28
        )
    _save_views(
        run_dir, {"samples": samples[:N_SHOWN], "real": data["test_x"][:16], "recon": recon}
    )
    summary = {
        "test": test,
        "scores": _judge(cfg, data, samples),
        "steps": total,
        "wall_time_s": clock.elapsed,
        "device": str(device),
    }
    return finish(run_dir, summary, checkpoint)


def run_ddpm(cfg: DDPMConfig, run_dir: Path) -> Result:
    """Train the denoiser, then sample by running the noising process backwards."""
    clock = runs.Stopwatch()
    seed_everything(cfg.seed)
    device = choose_device(cfg.device)
    data = _data(cfg, device)
    betas = diffusion.linear_betas(cfg.n_steps, cfg.beta_start, cfg.beta_end)
    model = diffusion.Denoiser(cfg.width).to(device)
    with runs.MetricLogger(run_dir) as logger, runs.progress(cfg.train_steps, "ddpm") as bar:

        def log(step: int, loss: float) -> None:
            logger.log(step, **{"losses/noise_mse": loss})
            bar.set_postfix(loss=f"{loss:.4f}")

        diffusion.train_ddpm(
            model,
            data["x"],
            betas,
            steps=cfg.train_steps,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            seed=cfg.seed,
            log=log,
            on_step=lambda: bar.update(1),
        )
        test_loss = diffusion.held_out_loss(model, data["test_x"][:2000], betas, cfg.seed)
        logger.log(cfg.train_steps, **{"eval/noise_mse": test_loss})
    checkpoint = runs.save_checkpoint(run_dir, cfg.train_steps, {"model": model.state_dict()})
    samples = diffusion.sample(
        model, cfg.n_samples, betas, torch.Generator().manual_seed(cfg.seed + 1)
    )
    x0 = diffusion.to_model_space(data["test_x"][:6])
    shown_t = [0, cfg.n_steps // 8, cfg.n_steps // 4, cfg.n_steps // 2, cfg.n_steps - 1]
    noised = [
        diffusion.q_sample(
            x0, torch.full((6,), t, device=device), torch.randn_like(x0), diffusion.alpha_bar(betas)
        )
        for t in shown_t
    ]
    _save_views(
        run_dir,
        {
            "samples": samples[:N_SHOWN],
            "noised": ((torch.stack(noised, 1) + 1) / 2).clamp(0, 1),  # [image, t, 1, 28, 28]
            "noised_t": torch.tensor(shown_t),
        },
    )
    summary = {
        "test": {"noise_mse": test_loss},
        "scores": _judge(cfg, data, samples),
        "steps": cfg.train_steps,
        "wall_time_s": clock.elapsed,
        "device": str(device),
    }
    return finish(run_dir, summary, checkpoint)


def _untrusted_judge(record: RunRecord) -> Verdict | None:
    """N/A when the judging CNN is too weak for its view of the samples to mean anything."""
    accuracy, bar = record.summary["scores"]["judge_accuracy"], record.config["min_judge_accuracy"]
    if accuracy < bar:
        return not_measured(
            f"the judging CNN reaches {accuracy:.1%} on test digits, below "
            f"min_judge_accuracy {bar:.0%} (raise classifier_steps)"
        )
    return None


def _samples_judged(record: RunRecord) -> Verdict:
    untrusted = _untrusted_judge(record)
    if untrusted is not None:
        return untrusted
    s = record.summary["scores"]["samples"]
    return Verdict(
        s["coverage"] >= record.config["target_coverage"],
        f"{s['coverage']} of 10 digits; judge's confidence {s['confidence']:.2f}",
    )


def _frechet(record: RunRecord) -> Verdict:
    untrusted = _untrusted_judge(record)
    if untrusted is not None:
        return untrusted
    scores = record.summary["scores"]
    ratio = scores["samples"]["frechet"] / scores["pixel noise"]["frechet"]
    return Verdict(
        ratio <= record.config["max_frechet_ratio"],
        f"{scores['samples']['frechet']:.2f} = {ratio:.1%} of pixel noise's "
        f"{scores['pixel noise']['frechet']:.2f} (real images "
        f"{scores['real test images']['frechet']:.2f})",
    )


COVERAGE = "digits making up ≥ 2% of the samples (judged by a CNN) ≥ {target_coverage}"
FRECHET = "Frechet distance of samples to real digits ≤ {max_frechet_ratio:.0%} of pixel noise's"


# smoke presets prove that the code runs; they keep the real bars (a smoke run is not judged)
VAE_PRESETS = {
    "smoke": VAEConfig(epochs=1, train_size=2048, n_samples=200, classifier_steps=30),
    "quick": VAEConfig(time_budget_s=600.0),
    "full": VAEConfig(latent=32, epochs=50, n_samples=2000, time_budget_s=3600.0),
}

DDPM_PRESETS = {
    "smoke": DDPMConfig(
        n_steps=20,
        width=8,
        train_steps=30,
        train_size=2048,
        n_samples=32,
        classifier_steps=30,
    ),
    "quick": DDPMConfig(time_budget_s=600.0),
    "full": DDPMConfig(
        n_steps=1000,
        beta_start=1e-4,
        beta_end=0.02,
        width=32,
        train_steps=30_000,
        batch_size=128,
        n_samples=1000,
        time_budget_s=4 * 3600.0,
    ),
}

VAE_SPEC = ExperimentSpec(
    name="vae",
    title="Chapter 5 extra: a variational autoencoder on MNIST",
    presets=VAE_PRESETS,
    run=run_vae,
    exercises=(),  # an extra beyond the exercise: reference code only
    criteria=(
        at_least("test ELBO (nats per image)", "test.elbo", "target_elbo", "{:.1f}"),
        Criterion("prior samples: " + COVERAGE, _samples_judged),
        Criterion("prior samples: " + FRECHET, _frechet),
        Criterion(BUDGET, in_budget),
    ),
    figures=generative_figures,
    sections=generative_sections,
    next_steps="Try `--set latent=2` and look at how the samples blur; raise `epochs` and "
    "watch the ELBO's two terms trade off in the loss figure.",
)

DDPM_SPEC = ExperimentSpec(
    name="ddpm",
    title="Chapter 5 extra: a minimal denoising diffusion model (DDPM) on MNIST",
    presets=DDPM_PRESETS,
    run=run_ddpm,
    exercises=(),  # an extra beyond the exercise: reference code only
    criteria=(
        at_most(
            "held-out (test) noise-prediction MSE", "test.noise_mse", "target_test_loss", "{:.4f}"
        ),
        Criterion(COVERAGE, _samples_judged),
        Criterion(FRECHET, _frechet),
        Criterion(BUDGET, in_budget),
    ),
    figures=generative_figures,
    sections=generative_sections,
    next_steps="Try `--set n_steps=50 beta_end=0.4` (coarser noising) or more `train_steps`, "
    "and compare the samples and the Frechet distance.",
)
