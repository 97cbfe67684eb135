"""L-infinity attacks on image classifiers: PGD with random start, and restarts (FGSM, the
single step, is in robust_training.py).

Refs: Goodfellow et al. 2015 (FGSM, "Explaining and harnessing adversarial examples");
Madry et al. 2018 (PGD with random start, "Towards deep learning models resistant to
adversarial attacks").

Every attack runs the model in eval mode. With batch norm in train mode the attack would
normalise by the statistics of the adversarial batch itself, so the perturbation of one
image would depend on the others and the running statistics would drift towards
adversarial inputs: the attack would then optimise a different function from the one
that is evaluated. `eval_mode` restores the caller's mode afterwards, so a training loop
can attack and then take its step in train mode.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put the model in eval mode for the block, then restore its previous mode."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def input_gradient(
    model: nn.Module, images: Float[Tensor, "batch c h w"], labels: Int[Tensor, " batch"]
) -> Float[Tensor, "batch c h w"]:
    """Gradient of the summed cross-entropy with respect to the input pixels.

    The sum (not the mean) keeps each example's gradient independent of the batch size.
    Only the input's gradient is computed: the weights' .grad stay untouched.
    """
    with torch.enable_grad():  # attacks need gradients even when called under no_grad
        x = images.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def pgd(
    model: nn.Module,
    images: Float[Tensor, "batch c h w"],
    labels: Int[Tensor, " batch"],
    eps: float,
    alpha: float,
    steps: int,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> Float[Tensor, "batch c h w"]:
    """Projected gradient descent on the loss, inside the L-infinity ball of radius eps.

    Each step moves the perturbation by alpha along the sign of the input gradient of the
    cross-entropy (ascent: the loss goes up), then projects back onto the constraint set:
    |x_adv - x| <= eps in every pixel and 0 <= x_adv <= 1.

    Args:
        model: maps images to logits; call it in eval mode (the caller's mode is kept).
        images: clean inputs with values in [0, 1].
        labels: true classes.
        eps: radius of the L-infinity ball.
        alpha: step size of each signed-gradient step.
        steps: number of steps (0 returns the random start, or the clean images).
        random_start: start from a uniform point in the ball instead of the clean image.
        generator: random source for the start (None: torch's global one).

    Returns:
        The adversarial images, detached, same shape as `images`.
    """
    with eval_mode(model):
        # BEGIN SOLUTION
        # HINT: keep the perturbation delta, not x_adv: projecting delta onto [-eps, eps]
        # HINT: is a clamp; then clamp images + delta to [0, 1] as well.
        delta = torch.zeros_like(images)
        if random_start:
            u = torch.rand(images.shape, generator=generator, device="cpu").to(images)
            delta = (2 * u - 1) * eps
        delta = (images + delta).clamp(0.0, 1.0) - images
        for _ in range(steps):
            grad = input_gradient(model, images + delta, labels)
            delta = (delta + alpha * grad.sign()).clamp(-eps, eps)
            delta = (images + delta).clamp(0.0, 1.0) - images
        return (images + delta).detach()
        # END SOLUTION


@torch.no_grad()
def _per_example_loss(model: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
    with eval_mode(model):
        return F.cross_entropy(model(images), labels, reduction="none")


def pgd_restarts(
    model: nn.Module,
    images: Float[Tensor, "batch c h w"],
    labels: Int[Tensor, " batch"],
    eps: float,
    alpha: float,
    steps: int,
    restarts: int,
    generator: torch.Generator | None = None,
    pgd_fn=pgd,
) -> Float[Tensor, "batch c h w"]:
    """PGD from several random starts; per example keep a perturbation that fools the model.

    An example counts as robust only if every restart fails. Restarts after the first
    attack only the examples still classified correctly (the others are already broken),
    which makes restarts nearly free against a non-robust model.
    """
    best = pgd_fn(model, images, labels, eps, alpha, steps, True, generator)
    for _ in range(restarts - 1):
        with torch.no_grad(), eval_mode(model):
            alive = (model(best).argmax(1) == labels).nonzero().squeeze(1)
        if len(alive) == 0:
            break
        trial = pgd_fn(model, images[alive], labels[alive], eps, alpha, steps, True, generator)
        # take the new point where it has the higher loss (it then breaks what it can)
        better = _per_example_loss(model, trial, labels[alive]) > _per_example_loss(
            model, best[alive], labels[alive]
        )
        best[alive[better]] = trial[better]
    return best


@torch.no_grad()
def accuracy_on(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    """Accuracy of the model (eval mode) on the given images."""
    with eval_mode(model):
        return (model(images).argmax(1) == labels).float().mean().item()
