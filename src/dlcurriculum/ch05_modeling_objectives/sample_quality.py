"""How digit-like are generated samples? A small classifier's view of them, for the extras.

Both generative extras (VAE, DDPM) are judged the same way, with chapter 0's CNN trained
for a few hundred steps on real digits:

- confidence: the mean top-class probability the classifier gives the samples;
- coverage: how many of the 10 digits make up at least 2% of the samples (mode collapse
  shows up as a low count);
- Frechet distance between the classifier's features of samples and of real test
  images (FID's formula, with this small CNN in place of Inception), read against two
  yardsticks: held-out real images (near 0) and "pixel noise" that only knows each
  pixel's mean ink (large).

Ref: Heusel et al. 2017 (FID); Salimans et al. 2016 (classifier-based sample scores).
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcurriculum.ch00_mnist.loop import random_shift
from dlcurriculum.ch00_mnist.model import CNN, MNIST_MEAN, MNIST_STD, predict


def digit_classifier(
    images: Tensor, labels: Tensor, seed: int, steps: int = 300, width: int = 16
) -> CNN:
    """Chapter 0's CNN trained briefly with shifts (97.0% on 2000 test digits at 300 steps)."""
    torch.manual_seed(seed)
    model = CNN(width=width).to(images.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed + 11)
    for _ in range(steps):
        idx = torch.randint(len(images), (128,), generator=g).to(images.device)
        optimizer.zero_grad()
        F.cross_entropy(model(random_shift(images[idx], 2, g)), labels[idx]).backward()
        optimizer.step()
    return model.eval()


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two feature clouds [n, d].

    Tr((S_a S_b)^(1/2)) is the sum of square roots of the eigenvalues of
    S_a^(1/2) S_b S_a^(1/2), a symmetric PSD matrix (so eigh is exact and stable).
    """
    a, b = a.double(), b.double()
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    vals, vecs = torch.linalg.eigh(cov_a)
    root_a = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.T
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    mean_term = (a.mean(0) - b.mean(0)).pow(2).sum()
    return float(mean_term + cov_a.trace() + cov_b.trace() - 2 * cross)


@torch.no_grad()
def features(classifier: CNN, images: Tensor) -> Tensor:
    """The classifier's penultimate features (global max pool of the last conv)."""
    return torch.cat(
        [
            classifier.features((images[i : i + 1000] - MNIST_MEAN) / MNIST_STD)
            for i in range(0, len(images), 1000)
        ]
    )


def pixel_noise(mean_image: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """The yardstick that knows only each pixel's mean ink: independent Bernoulli pixels."""
    probs = mean_image.expand(n, *mean_image.shape).cpu()
    return torch.bernoulli(probs, generator=generator).to(mean_image)


def score_samples(classifier: CNN, samples: Tensor, reference: Tensor) -> dict[str, float]:
    """Confidence, digit coverage and Frechet distance of samples against real images."""
    probs = predict(classifier, samples).softmax(1)
    counts = torch.bincount(probs.argmax(1), minlength=10)
    return {
        "confidence": probs.max(1).values.mean().item(),
        "coverage": int((counts >= 0.02 * len(samples)).sum()),
        "frechet": frechet_distance(features(classifier, samples), features(classifier, reference)),
    }
