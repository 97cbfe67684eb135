"""Feature visualisation: synthesise the input that most excites a channel or a logit.

Ref: Olah et al. 2017, "Feature Visualization" (Distill), section "The Enemy of Feature
Visualization": without regularisation, gradient ascent on the input finds high-frequency
patterns that fool the model rather than show what it looks for. The usual remedies are
implemented here: jitter (random shifts), transformation robustness (random scale and
rotation), blur (a frequency penalty applied as a periodic smoothing step) and an L2 penalty
that prefers dark pixels, which on MNIST means "background unless needed".
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from dlcurriculum.core.hooks import capture

Objective = Callable[[Tensor], Float[Tensor, " batch"]]


@dataclass(frozen=True)
class Regularisers:
    """Which regularisers feature visualisation uses (all zero = plain gradient ascent)."""

    jitter: int = 2
    """Random shift of up to this many pixels each step."""
    scale: float = 0.1
    """Random zoom in [1 - scale, 1 + scale] each step."""
    rotate_deg: float = 10.0
    """Random rotation of up to this many degrees each step."""
    blur_every: int = 4
    """Smooth the image with a 3x3 Gaussian every this many steps (0 = never)."""
    l2: float = 0.05
    """Weight of the mean squared pixel value, which pulls pixels to the black background."""


PLAIN = Regularisers(jitter=0, scale=0.0, rotate_deg=0.0, blur_every=0, l2=0.0)


def logit_objective(model: nn.Module, classes: Tensor) -> Objective:
    """Objective: image i maximises the logit of class `classes[i]`."""
    return lambda x: model(x).gather(1, classes[:, None])[:, 0]


def channel_objective(model: nn.Module, layer: str, channels: Tensor) -> Objective:
    """Objective: image i maximises the mean activation of channel `channels[i]` of `layer`."""

    def objective(x: Tensor) -> Tensor:
        with capture(model, [layer], detach=False) as cache:
            model(x)
        acts = cache[layer]  # [batch, channels, h, w]
        return acts[torch.arange(len(x)), channels].mean((-2, -1))

    return objective


def _random_transform(x: Tensor, reg: Regularisers, g: torch.Generator) -> Tensor:
    """Apply one random shift, zoom and rotation (different per image) to a batch."""
    n = len(x)
    if reg.jitter:
        dx, dy = torch.randint(-reg.jitter, reg.jitter + 1, (2,), generator=g).tolist()
        x = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    if reg.scale or reg.rotate_deg:
        zoom = 1 + reg.scale * (2 * torch.rand(n, generator=g) - 1)
        angle = math.radians(reg.rotate_deg) * (2 * torch.rand(n, generator=g) - 1)
        cos, sin = angle.cos() / zoom, angle.sin() / zoom
        theta = torch.stack(
            [
                torch.stack([cos, -sin, torch.zeros(n)], 1),
                torch.stack([sin, cos, torch.zeros(n)], 1),
            ],
            1,
        ).to(x)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    return x


def _blur(x: Tensor) -> Tensor:
    kernel = torch.tensor([1.0, 2.0, 1.0], device=x.device)
    kernel = (kernel[:, None] * kernel[None, :]) / 16
    return F.conv2d(x, kernel.view(1, 1, 3, 3).to(x), padding=1)


def visualise(
    objective: Objective,
    n_images: int,
    reg: Regularisers,
    steps: int = 128,
    lr: float = 0.05,
    seed: int = 0,
) -> Float[Tensor, "n_images 1 28 28"]:
    """Gradient ascent on `n_images` inputs in [0, 1], each maximising its own objective.

    Args:
        objective: images -> one score per image to maximise.
        n_images: batch size (one image per channel or class).
        reg: the regularisers to apply.
        steps: Adam steps.
        lr: Adam learning rate (pixels live in [0, 1]).
        seed: seed of the start image and of the random transforms.

    Returns:
        The optimised images, clamped to [0, 1].
    """
    g = torch.Generator().manual_seed(seed)
    image = (0.1 + 0.05 * torch.randn(n_images, 1, 28, 28, generator=g)).clamp(0, 1)
    image.requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=lr)
    for step in range(steps):
        score = objective(_random_transform(image, reg, g))
        loss = -score.sum() + reg.l2 * n_images * image.pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            if reg.blur_every and (step + 1) % reg.blur_every == 0:
                image.copy_(_blur(image))
            image.clamp_(0, 1)
    return image.detach()


def template_similarity(
    images: Float[Tensor, "n channels height width"],
    templates: Float[Tensor, "n channels height width"],
) -> Float[Tensor, " n"]:
    """Pearson correlation of each image with its template (e.g. the class-mean digit)."""
    a = images.flatten(1) - images.flatten(1).mean(1, keepdim=True)
    b = templates.flatten(1) - templates.flatten(1).mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
