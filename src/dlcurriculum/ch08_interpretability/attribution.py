"""Attribution for an image classifier: saliency, gradient x input, integrated gradients, occlusion.

Ref: Simonyan et al. 2014 (saliency); Shrikumar et al. 2016 (gradient x input); Sundararajan
et al. 2017, "Axiomatic Attribution for Deep Networks" (integrated gradients, completeness);
Zeiler & Fergus 2014 (occlusion). Each matches its Captum counterpart (see the tests).

Every function takes `model` (images -> logits), images [batch, channels, height, width]
and one target
class per image, and returns one attribution per pixel, shaped like the images. Positive
attribution means the pixel pushes the target logit up.
"""

from collections.abc import Callable

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

Images = Float[Tensor, "batch channels height width"]
Attribution = Callable[[nn.Module, Tensor, Tensor], Tensor]


def target_logits(
    model: nn.Module, images: Float[Tensor, "batch ..."], targets: Int[Tensor, " batch"]
) -> Float[Tensor, " batch"]:
    """Each image's logit for its own target class."""
    return model(images).gather(1, targets[:, None])[:, 0]


def input_gradient(model: nn.Module, images: Tensor, targets: Tensor) -> Tensor:
    """d logit_target / d image, per image (the images of a batch do not interact in eval mode)."""
    x = images.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(target_logits(model, x, targets).sum(), x)
    return grad


def saliency(model: nn.Module, images: Images, targets: Int[Tensor, " batch"]) -> Images:
    """|d logit_target / d pixel| (Simonyan et al. 2014; Captum `Saliency`, abs=True)."""
    return input_gradient(model, images, targets).abs()


def gradient_x_input(model: nn.Module, images: Images, targets: Int[Tensor, " batch"]) -> Images:
    """pixel * d logit_target / d pixel (Captum `InputXGradient`): a first-order Taylor term."""
    return images * input_gradient(model, images, targets)


def integrated_gradients(
    model: nn.Module,
    images: Images,
    targets: Int[Tensor, " batch"],
    baseline: Images | None = None,
    n_steps: int = 64,
) -> Images:
    """Integrated gradients along the straight path from `baseline` to each image.

    Ref: Sundararajan et al. 2017, eq. 1 and section 4 (Riemann approximation).

    IG_i(x) = (x_i - x'_i) * integral_0^1 d f(x' + a (x - x')) / d x_i da, with f the target
    logit. The integral is approximated by the midpoint rule: the mean gradient at the
    `n_steps` points a = (k + 1/2) / n_steps, k = 0 .. n_steps - 1 (Captum's
    `method="riemann_middle"`). Completeness: the attributions of an image sum to
    f(x) - f(x') up to the quadrature error, which shrinks as n_steps grows.

    Args:
        model: images -> logits, in eval mode.
        images: float inputs.
        targets: class index per image.
        baseline: the reference input x' (None = all zeros, a black image).
        n_steps: points on the path, at least 1.

    Returns:
        Attributions, same shape as `images`.
    """
    # BEGIN SOLUTION
    # HINT: build all path points at once: alphas [n_steps], points [n_steps * batch, ...];
    # HINT: one backward pass of the summed target logits gives every point's gradient.
    if baseline is None:
        baseline = torch.zeros_like(images)
    alphas = (torch.arange(n_steps, dtype=images.dtype, device=images.device) + 0.5) / n_steps
    delta = images - baseline
    shape = (n_steps,) + (1,) * images.dim()
    points = baseline[None] + alphas.view(shape) * delta[None]  # [n_steps, batch, ...]
    grads = input_gradient(model, points.flatten(0, 1), targets.repeat(n_steps))
    return delta * grads.view_as(points).mean(0)
    # END SOLUTION


def batched(attribute: Attribution, chunk: int) -> Attribution:
    """Run an attribution method on `chunk` images at a time (bounds IG's memory)."""

    def run(model: nn.Module, images: Tensor, targets: Tensor) -> Tensor:
        parts = [
            attribute(model, images[i : i + chunk], targets[i : i + chunk])
            for i in range(0, len(images), chunk)
        ]
        return torch.cat(parts)

    return run


def completeness_error(
    model: nn.Module,
    images: Images,
    targets: Tensor,
    attributions: Images,
    baseline: Images | None = None,
) -> Float[Tensor, " batch"]:
    """|sum(attr) - (f(x) - f(x'))| / |f(x) - f(x')| per image (0 = exact completeness)."""
    if baseline is None:
        baseline = torch.zeros_like(images)
    with torch.no_grad():
        gap = target_logits(model, images, targets) - target_logits(model, baseline, targets)
    total = attributions.flatten(1).sum(1)
    return (total - gap).abs() / gap.abs().clamp_min(1e-8)


@torch.no_grad()
def occlusion(
    model: nn.Module,
    images: Images,
    targets: Int[Tensor, " batch"],
    window: int = 4,
    stride: int = 2,
    fill: float = 0.0,
) -> Images:
    """Drop in the target logit when a window x window patch is set to `fill`.

    Ref: Zeiler & Fergus 2014, section 4.2. Each pixel gets the mean drop over all windows
    that cover it, as Captum's `Occlusion` (sliding_window_shapes=(1, window, window),
    strides=(1, stride, stride), baselines=fill) computes it.
    """
    height, width = images.shape[-2:]
    base = target_logits(model, images, targets)
    total = torch.zeros_like(images)
    count = torch.zeros_like(images)
    for top in range(0, height - window + 1, stride):
        for left in range(0, width - window + 1, stride):
            occluded = images.clone()
            occluded[..., top : top + window, left : left + window] = fill
            drop = base - target_logits(model, occluded, targets)  # [batch]
            total[..., top : top + window, left : left + window] += drop.view(-1, 1, 1, 1)
            count[..., top : top + window, left : left + window] += 1
    return total / count.clamp_min(1)
