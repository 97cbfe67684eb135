"""Extra: a minimal denoising diffusion model (DDPM) on MNIST.

The forward process adds Gaussian noise in T small steps, q(x_t | x_{t-1}) =
N(sqrt(1 - beta_t) x_{t-1}, beta_t I), so that x_T is almost pure noise. Because each
step is Gaussian, the marginal has a closed form, q(x_t | x_0) = N(sqrt(abar_t) x_0,
(1 - abar_t) I) with abar_t = prod_{s<=t} (1 - beta_s), which lets training jump to any
noise level at once. A network learns to predict the noise that was added; sampling
runs the process backwards, one denoising step at a time.

Ref: Ho et al. 2020 (Denoising Diffusion Probabilistic Models): eq. 2 and 4 (the forward
process and its marginal), Algorithm 1 (training) and Algorithm 2 (sampling).
"""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn


def linear_betas(n_steps: int, beta_start: float, beta_end: float) -> Float[Tensor, " n_steps"]:
    """DDPM's linear variance schedule beta_1..beta_T (float64: abar is a long product)."""
    return torch.linspace(beta_start, beta_end, n_steps, dtype=torch.float64)


def alpha_bar(betas: Float[Tensor, " n_steps"]) -> Float[Tensor, " n_steps"]:
    """abar_t = prod_{s<=t} (1 - beta_s): the fraction of the signal's variance left at step t."""
    return torch.cumprod(1 - betas, dim=0)


def q_step(x_prev: Tensor, t: int, noise: Tensor, betas: Float[Tensor, " n_steps"]) -> Tensor:
    """One forward step x_{t-1} -> x_t with the given standard-normal noise (0-based t)."""
    beta = float(betas[t])
    return math.sqrt(1 - beta) * x_prev + math.sqrt(beta) * noise


def q_sample(
    x0: Float[Tensor, "batch ..."],
    t: Int[Tensor, " batch"],
    noise: Float[Tensor, "batch ..."],
    abar: Float[Tensor, " n_steps"],
) -> Float[Tensor, "batch ..."]:
    """Draw x_t ~ q(x_t | x_0) in one go: sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise."""
    a = abar.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def timestep_embedding(t: Int[Tensor, " batch"], dim: int) -> Float[Tensor, "batch dim"]:
    """Sinusoidal features of the step index, as for transformer positions (Ho et al. 2020)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResBlock(nn.Module):
    """Two 3x3 convs with the step embedding added in between, and a skip connection."""

    def __init__(self, c_in: int, c_out: int, d_time: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(d_time, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(emb)[:, :, None, None]  # tells every layer the noise level
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class Denoiser(nn.Module):
    """A small U-Net predicting the added noise: 28x28 -> 14x14 -> 7x7 and back, with skips.

    Args:
        width: channels at 28x28; twice as many at 14x14 and 7x7.
    """

    def __init__(self, width: int = 32):
        super().__init__()
        c, d = width, 4 * width
        self.time = nn.Sequential(nn.Linear(c, d), nn.SiLU(), nn.Linear(d, d))
        self.inp = nn.Conv2d(1, c, 3, padding=1)
        self.down1 = ResBlock(c, c, d)
        self.down2 = ResBlock(c, 2 * c, d)
        self.mid = ResBlock(2 * c, 2 * c, d)
        self.up2 = ResBlock(4 * c, 2 * c, d)
        self.up1 = ResBlock(3 * c, c, d)
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))
        self.width = width

    def forward(self, x: Float[Tensor, "batch 1 28 28"], t: Int[Tensor, " batch"]) -> Tensor:
        """Predicted noise, same shape as x."""
        emb = self.time(timestep_embedding(t, self.width))
        h1 = self.down1(self.inp(x), emb)  # 28x28
        h2 = self.down2(F.avg_pool2d(h1, 2), emb)  # 14x14
        h = self.mid(F.avg_pool2d(h2, 2), emb)  # 7x7
        h = self.up2(torch.cat([F.interpolate(h, scale_factor=2.0), h2], 1), emb)
        h = self.up1(torch.cat([F.interpolate(h, scale_factor=2.0), h1], 1), emb)
        return self.out(h)


def to_model_space(images: Tensor) -> Tensor:
    """Pixels in [0, 1] -> [-1, 1], the range the noise schedule is designed for."""
    return 2 * images - 1


def diffusion_loss(
    model: nn.Module, x0: Tensor, abar: Tensor, generator: torch.Generator
) -> Float[Tensor, ""]:
    """Ho et al. Algorithm 1: uniform step, noise the images to it, MSE of the predicted noise."""
    n = len(x0)
    t = torch.randint(len(abar), (n,), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0)
    return F.mse_loss(model(q_sample(x0, t, noise, abar), t), noise)


@torch.no_grad()
def sample(
    model: nn.Module, n: int, betas: Tensor, generator: torch.Generator
) -> Float[Tensor, "n 1 28 28"]:
    """Ho et al. Algorithm 2 (ancestral sampling, sigma_t^2 = beta_t); returns pixels in [0, 1]."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    abar = alpha_bar(betas)
    x = torch.randn(n, 1, 28, 28, generator=generator).to(device)
    for t in reversed(range(len(betas))):
        beta, a = float(betas[t]), float(abar[t])
        eps = model(x, torch.full((n,), t, device=device))
        x = (x - beta / math.sqrt(1 - a) * eps) / math.sqrt(1 - beta)
        if t > 0:  # no noise is added at the last step
            x = x + math.sqrt(beta) * torch.randn(x.shape, generator=generator).to(device)
    model.train(was_training)
    return ((x + 1) / 2).clamp(0, 1)


def train_ddpm(
    model: nn.Module,
    images: Float[Tensor, "n 1 28 28"],
    betas: Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    log: Callable[[int, float], None],
    log_every: int = 50,
    on_step: Callable[[], None] = lambda: None,
) -> None:
    """Adam with a short warm-up and cosine decay on the noise-prediction loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * s / steps)),
    )
    abar = alpha_bar(betas)
    g = torch.Generator().manual_seed(seed * 104_729 + 5)
    running = 0.0
    model.train()
    for step in range(steps):
        idx = torch.randint(len(images), (batch_size,), generator=g).to(images.device)
        loss = diffusion_loss(model, to_model_space(images[idx]), abar, g)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        running += loss.item()
        on_step()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            log(
                step + 1,
                running / (log_every if (step + 1) % log_every == 0 else steps % log_every),
            )
            running = 0.0


@torch.no_grad()
def held_out_loss(
    model: nn.Module, images: Tensor, betas: Tensor, seed: int, batch_size: int = 500
) -> float:
    """Noise-prediction MSE on held-out images at uniform random steps (predicting 0 gives 1)."""
    model.eval()
    abar, g = alpha_bar(betas), torch.Generator().manual_seed(seed)
    losses = [
        diffusion_loss(model, to_model_space(images[i : i + batch_size]), abar, g).item()
        for i in range(0, len(images), batch_size)
    ]
    model.train()
    return sum(losses) / len(losses)
