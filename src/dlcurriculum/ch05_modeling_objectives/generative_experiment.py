"""Extras, `dlc run vae` and `dlc run ddpm`: the chapter's optional reading made concrete.

Two generative objectives on MNIST, each trained from scratch and judged by its samples
(see sample_quality.py): a VAE (the ELBO) and a minimal DDPM (denoising at every noise
level). They are smaller than the contrastive exercise and are not part of the
curriculum's exercise; the criteria only say "these are digits, not noise".

Ref: Kingma & Welling 2014 (VAE); Ho et al. 2020 (DDPM).
"""

from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch05_modeling_objectives import diffusion
from dlcurriculum.ch05_modeling_objectives.config import DDPMConfig, SampleBars, VAEConfig
from dlcurriculum.ch05_modeling_objectives.sample_quality import (
    digit_classifier,
    pixel_noise,
    score_samples,
)
from dlcurriculum.ch05_modeling_objectives.vae import VAE, evaluate_elbo, train_vae
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import Result, finish
from dlcurriculum.core.runs import atomic_open
from dlcurriculum.core.seed import choose_device, seed_everything

N_SHOWN = 64  # samples drawn in the report's grid


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
