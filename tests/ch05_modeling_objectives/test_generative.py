"""The extras: VAE and DDPM pieces against closed forms and torch.distributions, plus smoke runs."""

import math
from pathlib import Path

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from dlcurriculum.ch05_modeling_objectives import diffusion
from dlcurriculum.ch05_modeling_objectives.experiments import DDPM as DDPM_SPEC
from dlcurriculum.ch05_modeling_objectives.experiments import VAE as VAE_SPEC
from dlcurriculum.ch05_modeling_objectives.sample_quality import frechet_distance
from dlcurriculum.ch05_modeling_objectives.vae import (
    VAE,
    bernoulli_log_likelihood,
    evaluate_elbo,
    gaussian_kl,
)
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.experiment import launch
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE, Judgement
from dlcurriculum.core.runs import read_metrics


def test_gaussian_kl_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    prior = Independent(Normal(torch.zeros(7), torch.ones(7)), 1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), kl_divergence(q, prior))
    assert gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() == 0  # q = prior


def test_bernoulli_log_likelihood_matches_torch_distributions() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 784, generator=g)
    x = (torch.rand(4, 784, generator=g) > 0.5).float()
    expected = Independent(Bernoulli(logits=logits), 1).log_prob(x)
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), expected)


def test_elbo_is_reconstruction_minus_kl_and_bounded_by_zero() -> None:
    model = VAE(latent=4, hidden=32)
    x = (torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(2)) > 0.7).float()
    t = model.terms(x, torch.Generator().manual_seed(3))
    torch.testing.assert_close(t.elbo, t.reconstruction - t.kl)
    assert (t.kl >= 0).all() and (t.reconstruction <= 0).all()  # binary x: log p(x|z) <= 0
    m = evaluate_elbo(model, x, seed=0)
    assert math.isclose(m["elbo"], m["reconstruction"] - m["kl"], rel_tol=1e-5)


def test_alpha_bar_closed_forms() -> None:
    betas = diffusion.linear_betas(50, 1e-3, 0.2)
    abar = diffusion.alpha_bar(betas)
    loop, prod = [], 1.0
    for b in betas.tolist():
        prod *= 1 - b
        loop.append(prod)
    torch.testing.assert_close(abar, torch.tensor(loop, dtype=torch.float64))
    constant = diffusion.alpha_bar(torch.full((10,), 0.1, dtype=torch.float64))
    torch.testing.assert_close(constant, 0.9 ** torch.arange(1, 11, dtype=torch.float64))
    assert (abar[1:] < abar[:-1]).all()
    quick = DDPM_SPEC.config("quick")
    last = diffusion.alpha_bar(
        diffusion.linear_betas(quick.n_steps, quick.beta_start, quick.beta_end)
    )[-1]
    assert 0 < last < 1e-3  # the quick schedule ends in nearly pure noise, as DDPM's does


def test_q_sample_marginal_matches_iterating_the_one_step_kernel() -> None:
    betas = diffusion.linear_betas(40, 1e-3, 0.1)
    abar = diffusion.alpha_bar(betas)
    # exact moments: each step maps (mean, var) to (sqrt(1 - b) mean, (1 - b) var + b)
    mean, var = 1.0, 0.0
    for t in range(40):
        mean, var = math.sqrt(1 - betas[t]) * mean, (1 - betas[t]) * var + betas[t]
        assert math.isclose(mean, abar[t].sqrt().item(), rel_tol=1e-9)
        assert math.isclose(var, 1 - abar[t].item(), rel_tol=1e-9)
    # Monte Carlo: 20k chains through the one-step kernel vs one jump with q_sample
    g = torch.Generator().manual_seed(4)
    x0 = torch.tensor([-1.0, 0.3, 1.0], dtype=torch.float64).repeat(20_000, 1)
    x = x0.clone()
    for t in range(25):
        x = diffusion.q_step(x, t, torch.randn(x.shape, generator=g, dtype=torch.float64), betas)
    t_idx = torch.full((len(x0),), 24)
    jump = diffusion.q_sample(
        x0, t_idx, torch.randn(x0.shape, generator=g, dtype=torch.float64), abar
    )
    for a in (x, jump):  # both agree with the closed form within Monte Carlo error
        torch.testing.assert_close(a.mean(0), abar[24].sqrt() * x0[0], atol=0.03, rtol=0)
        torch.testing.assert_close(a.var(0), (1 - abar[24]).expand(3), atol=0.03, rtol=0)


def test_denoiser_shapes_and_a_perfect_denoiser_samples_the_data() -> None:
    model = diffusion.Denoiser(width=8)
    x, t = torch.randn(3, 1, 28, 28), torch.tensor([0, 5, 9])
    assert model(x, t).shape == x.shape

    # with a single training image x0 the true noise is known in closed form; sampling with
    # it must land on x0 (a check of Algorithm 2's update, independent of any training)
    x0 = diffusion.to_model_space(
        torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    )
    betas = diffusion.linear_betas(30, 1e-3, 0.3)
    abar = diffusion.alpha_bar(betas).float()

    class Oracle(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(()))

        def forward(self, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            a = abar[t].view(-1, 1, 1, 1)
            return (xt - a.sqrt() * x0) / (1 - a).sqrt()

    out = diffusion.sample(Oracle(), 4, betas, torch.Generator().manual_seed(6))
    torch.testing.assert_close(
        out, ((x0 + 1) / 2).clamp(0, 1).expand(4, -1, -1, -1), atol=1e-3, rtol=0
    )


def test_frechet_distance_of_gaussians_matches_closed_form() -> None:
    g = torch.Generator().manual_seed(7)
    a = torch.randn(200_000, 2, generator=g)
    b = 2 * torch.randn(200_000, 2, generator=g) + torch.tensor([1.0, 0.0])
    # N(0, I) vs N((1, 0), 4I): |dmu|^2 + tr(I + 4I - 2 * 2I) = 1 + 2
    assert abs(frechet_distance(a, b) - 3.0) < 0.05
    assert abs(frechet_distance(a, a)) < 1e-6


def _computed(judgement: Judgement) -> list[str]:
    """Statuses of a smoke run's criteria: computed and shown, never judged."""
    assert judgement.status == SMOKE
    return [v.status for _, v in judgement.verdicts]


def test_vae_smoke_run(tmp_path: Path) -> None:
    result, judgement = launch(VAE_SPEC, VAE_SPEC.config("smoke"), "smoke", tmp_path)
    statuses = _computed(judgement)
    # the ELBO is judged; the 30-step judge (about 76% on test digits) is below
    # min_judge_accuracy, so its sample scores are computed but decide nothing; the smoke
    # preset sets no time budget
    assert statuses[0] in (PASS, FAIL) and statuses[1:] == [NOT_MEASURED] * 3, statuses
    assert "classifier_steps" in judgement.verdicts[1][1].measured
    scores = result.summary["scores"]
    assert scores["judge_accuracy"] < VAE_SPEC.config("smoke").min_judge_accuracy
    assert {"coverage", "frechet", "confidence"} <= set(scores["samples"])
    keys = set().union(*read_metrics(result.run_dir))
    assert {"losses/elbo", "losses/kl", "losses/reconstruction", "eval/elbo"} <= keys
    for name in ("samples.png", "reconstructions.png", "loss.png"):
        assert (result.run_dir / "figures" / name).exists(), name
    assert "Samples, judged" in (result.run_dir / "report.md").read_text()


def test_ddpm_smoke_run(tmp_path: Path) -> None:
    result, judgement = launch(DDPM_SPEC, DDPM_SPEC.config("smoke"), "smoke", tmp_path)
    statuses = _computed(judgement)
    assert statuses[0] in (PASS, FAIL) and statuses[1:] == [NOT_MEASURED] * 3, statuses
    assert {"coverage", "frechet", "confidence"} <= set(result.summary["scores"]["samples"])
    assert result.summary["test"]["noise_mse"] < 1.0  # below predicting zero noise
    for name in ("samples.png", "noising.png", "loss.png"):
        assert (result.run_dir / "figures" / name).exists(), name


@pytest.mark.parametrize(
    ("spec", "assignments", "message"),
    [
        (VAE_SPEC, ["train_size=100"], r"train_size \(100\) must be at least batch_size \(128\)"),
        (VAE_SPEC, ["target_elbo=-10"], r"target_elbo must be <= -45.5, got -10.0"),
        (VAE_SPEC, ["n_samples=1"], r"n_samples must be in \[2, 8000\], got 1"),
        (DDPM_SPEC, ["beta_start=0.2"], r"beta_start \(0.2\) must be below beta_end \(0.1\)"),
        (DDPM_SPEC, ["width=12"], r"width must be a multiple of 8 .*, got 12"),
        (DDPM_SPEC, ["width=0"], r"width must be >= 8, got 0"),
    ],
)
def test_generative_configs_refuse_what_they_cannot_run_with(
    spec: object, assignments: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        spec.config("smoke", assignments)  # type: ignore[attr-defined]
