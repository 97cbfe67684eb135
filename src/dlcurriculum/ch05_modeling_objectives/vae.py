"""Extra: a variational autoencoder on MNIST, the ELBO written term by term.

The encoder maps an image to a diagonal Gaussian q(z|x); the decoder maps a latent to
Bernoulli pixel probabilities p(x|z). Training maximises the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I)),

a reconstruction term traded against keeping the code close to the prior. The KL of
two diagonal Gaussians has a closed form; the expectation is estimated with one sample
drawn by the reparameterisation z = mu + sigma * eps, so gradients flow through it.

Ref: Kingma & Welling 2014 (Auto-Encoding Variational Bayes), section 2.4 and appendix B.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn


def gaussian_kl(
    mu: Float[Tensor, "batch d"], logvar: Float[Tensor, "batch d"]
) -> Float[Tensor, " batch"]:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over the latent dimensions.

    Ref: Kingma & Welling 2014, appendix B: -1/2 * sum(1 + log s^2 - mu^2 - s^2).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)


def bernoulli_log_likelihood(
    logits: Float[Tensor, "batch 784"], x: Float[Tensor, "batch 784"]
) -> Float[Tensor, " batch"]:
    """log p(x|z) of pixel intensities in [0, 1] under independent Bernoullis, per image.

    Grey pixels are treated as fractional outcomes (the usual continuous relaxation),
    which makes this minus the binary cross-entropy summed over pixels.
    """
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)


@dataclass(frozen=True)
class ElboTerms:
    """Per-image terms of the ELBO, in nats: elbo = reconstruction - kl."""

    reconstruction: Tensor
    kl: Tensor

    @property
    def elbo(self) -> Tensor:
        return self.reconstruction - self.kl


class VAE(nn.Module):
    """MLP encoder 784 -> hidden -> (mu, logvar) and MLP decoder latent -> hidden -> 784 logits.

    Args:
        latent: size of the code z.
        hidden: width of the single hidden layer on each side.
    """

    def __init__(self, latent: int = 16, hidden: int = 400):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU())
        self.to_stats = nn.Linear(hidden, 2 * latent)  # mu and log-variance side by side
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def encode(self, x: Float[Tensor, "batch 1 28 28"]) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of q(z|x), each [batch, latent]."""
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: Float[Tensor, "batch latent"]) -> Float[Tensor, "batch 784"]:
        """Pixel logits of p(x|z)."""
        return self.decoder(z)

    def terms(self, x: Float[Tensor, "batch 1 28 28"], generator: torch.Generator) -> ElboTerms:
        """One-sample estimate of the ELBO's two terms for each image."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator).to(mu)
        z = mu + (0.5 * logvar).exp() * eps  # reparameterised: differentiable in mu, logvar
        recon = bernoulli_log_likelihood(self.decode(z), x.flatten(1))
        return ElboTerms(recon, gaussian_kl(mu, logvar))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> Float[Tensor, "n 1 28 28"]:
        """Decoded means of n codes from the prior N(0, I) (the mean image, not a noisy draw)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent, generator=generator).to(device)
        return torch.sigmoid(self.decode(z)).view(n, 1, 28, 28)


def train_vae(
    model: VAE,
    images: Float[Tensor, "n 1 28 28"],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    log: Callable[[int, dict[str, float]], None],
    log_every: int = 50,
    on_step: Callable[[], None] = lambda: None,
) -> int:
    """Adam on the negative ELBO (mean over the batch); logs reconstruction, KL and ELBO.

    Returns:
        The number of optimizer steps taken.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = len(images) // batch_size
    total = epochs * steps_per_epoch
    g = torch.Generator().manual_seed(seed * 7919 + 3)
    sums = {"reconstruction": 0.0, "kl": 0.0, "elbo": 0.0}
    model.train()
    for step in range(total):
        epoch, i = divmod(step, steps_per_epoch)
        if i == 0:
            order = torch.randperm(
                len(images), generator=torch.Generator().manual_seed(seed + epoch)
            )
        x = images[order[i * batch_size : (i + 1) * batch_size].to(images.device)]
        t = model.terms(x, g)
        loss = -t.elbo.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        for key, value in (("reconstruction", t.reconstruction), ("kl", t.kl), ("elbo", t.elbo)):
            sums[key] += value.mean().item()
        on_step()
        if (step + 1) % log_every == 0 or step + 1 == total:
            n = log_every if (step + 1) % log_every == 0 else (step + 1) % log_every
            log(step + 1, {k: v / n for k, v in sums.items()})
            sums = dict.fromkeys(sums, 0.0)
    return total


@torch.no_grad()
def evaluate_elbo(
    model: VAE, images: Float[Tensor, "n 1 28 28"], seed: int, batch_size: int = 1000
) -> dict[str, float]:
    """Mean ELBO, reconstruction and KL (nats per image) on held-out images."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    parts = [model.terms(images[i : i + batch_size], g) for i in range(0, len(images), batch_size)]
    recon = torch.cat([p.reconstruction for p in parts]).mean().item()
    kl = torch.cat([p.kl for p in parts]).mean().item()
    model.train()
    return {"elbo": recon - kl, "reconstruction": recon, "kl": kl}
