"""Standard and adversarial training of the prerequisite's CNN, and its robustness table.

Adversarial training (Madry et al. 2018) minimises the loss on the worst perturbation the
attack finds: every batch is first attacked (in eval mode, see attacks.py), then the model
takes an ordinary gradient step on the attacked batch in train mode. "Fast" adversarial
training (Wong, Rice & Kolter 2020) replaces PGD by a single FGSM step from a random start
with step 1.25 eps, which costs two forward-backward passes per batch instead of k + 1.

Starting at eps = 0.3 from random weights can stall at chance, so eps ramps up linearly
over the first `eps_warmup` fraction of training (a common curriculum for MNIST).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from dlcurriculum.ch00_mnist.loop import Split
from dlcurriculum.ch09_adversarial_training.attacks import (
    accuracy_on,
    eval_mode,
    input_gradient,
    pgd,
    pgd_restarts,
)
from dlcurriculum.core import runs


def fgsm(
    model: nn.Module,
    images: Float[Tensor, "batch c h w"],
    labels: Int[Tensor, " batch"],
    eps: float,
) -> Float[Tensor, "batch c h w"]:
    """Fast gradient sign method: one step of size eps along the sign of the input gradient.

    Returns adversarial images clipped to the valid pixel range [0, 1].
    """
    with eval_mode(model):
        grad = input_gradient(model, images, labels)
    return (images + eps * grad.sign()).clamp(0.0, 1.0).detach()


Method = Literal["standard", "pgd", "fast"]


@dataclass(frozen=True)
class TrainSpec:
    """How one model is trained."""

    method: Method
    epochs: int
    eps: float = 0.3
    steps: int = 5
    """PGD steps per training batch (method "pgd")."""
    alpha: float = 0.1
    """PGD step size (method "pgd"); "fast" uses 1.25 eps."""
    eps_warmup: float = 0.3
    """Fraction of training over which eps ramps from 0 to its final value."""
    lr: float = 4e-3
    batch_size: int = 128


def adversarial_batch(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    spec: TrainSpec,
    eps: float,
    generator: torch.Generator,
    pgd_fn: Callable[..., Tensor] = pgd,
) -> Tensor:
    """The batch the model trains on: clean, PGD-attacked, or FGSM from a random start."""
    if spec.method == "standard" or eps == 0:
        return images
    if spec.method == "pgd":
        alpha = spec.alpha * eps / spec.eps  # the step shrinks with eps during warm-up
        return pgd_fn(model, images, labels, eps, alpha, spec.steps, True, generator)
    # fast AT: uniform start in the ball, then one FGSM step of 1.25 eps, projected back
    u = torch.rand(images.shape, generator=generator).to(images)
    start = (images + (2 * u - 1) * eps).clamp(0, 1)
    stepped = fgsm(model, start, labels, 1.25 * eps)
    return torch.min(torch.max(stepped, images - eps), images + eps).clamp(0, 1)


def train_model(
    model: nn.Module,
    train: Split,
    spec: TrainSpec,
    seed: int,
    desc: str,
    log: Callable[..., None] | None = None,
    pgd_fn: Callable[..., Tensor] = pgd,
) -> float:
    """Train in place with AdamW and a one-cycle schedule; return training seconds.

    Args:
        log: called as log(step, **metrics) every quarter epoch.
        pgd_fn: the PGD implementation (the learner's with --impl).
    """
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    steps_per_epoch = len(train) // spec.batch_size
    total = spec.epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, spec.lr, total_steps=total)
    gen = torch.Generator().manual_seed(seed)
    clock = runs.Stopwatch()
    bar = runs.progress(total, desc)
    loss_sum = correct = seen = 0.0
    model.train()
    for step in range(total):
        i = step % steps_per_epoch
        if i == 0:
            order = torch.randperm(len(train), generator=gen)
        idx = order[i * spec.batch_size : (i + 1) * spec.batch_size]
        images, labels = train.images[idx], train.labels[idx]
        eps = spec.eps * min(1.0, (step + 1) / max(1.0, spec.eps_warmup * total))
        x = adversarial_batch(model, images, labels, spec, eps, gen, pgd_fn)
        logits = model(x)  # train mode: batch norm normalises by this (attacked) batch
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        loss_sum += loss.item() * len(labels)
        correct += (logits.argmax(1) == labels).sum().item()
        seen += len(labels)
        bar.update(1)
        if (step + 1) % max(1, steps_per_epoch // 4) == 0 or step + 1 == total:
            row = {"losses/train": loss_sum / seen, "train/accuracy": correct / seen, "eps": eps}
            bar.set_postfix(loss=f"{row['losses/train']:.3f}", acc=f"{row['train/accuracy']:.3f}")
            if log:
                log(step + 1, epoch=(step + 1) / steps_per_epoch, **row)
            loss_sum = correct = seen = 0.0
    bar.close()
    model.eval()
    return clock.elapsed


@dataclass(frozen=True)
class EvalSpec:
    """The robustness evaluation: attacks at several radii on a test subset."""

    epsilons: tuple[float, ...] = (0.1, 0.2, 0.3)
    pgd_steps: int = 40
    short_steps: int = 10
    """A weaker PGD, for the check that more steps never help the model."""
    restarts: int = 2
    alpha_ratio: float = 2.5
    """PGD step size is alpha_ratio * eps / steps (Madry et al.'s rule)."""
    batch_size: int = 500


def robustness_table(
    model: nn.Module,
    test: Split,
    spec: EvalSpec,
    seed: int,
    desc: str,
    pgd_fn: Callable[..., Tensor] = pgd,
) -> dict[str, Any]:
    """Clean accuracy, and accuracy under FGSM, PGD-short and PGD-long at each eps.

    Returns {"clean": acc, "eps": {str(eps): {"fgsm", "pgd_short", "pgd"}}}.
    """
    gen = torch.Generator().manual_seed(seed)
    batches = [
        (test.images[i : i + spec.batch_size], test.labels[i : i + spec.batch_size])
        for i in range(0, len(test), spec.batch_size)
    ]
    n = len(test)

    def mean_acc(attack: Callable[[Tensor, Tensor], Tensor]) -> float:
        hits = sum(accuracy_on(model, attack(x, y), y) * len(y) for x, y in batches)
        return hits / n

    table: dict[str, Any] = {"clean": mean_acc(lambda x, y: x), "eps": {}}
    bar = runs.progress(len(spec.epsilons) * 3, desc)
    for eps in spec.epsilons:
        row: dict[str, float] = {}
        row["fgsm"] = mean_acc(partial(fgsm, model, eps=eps))
        bar.update(1)
        for key, steps, restarts in (
            ("pgd_short", spec.short_steps, 1),
            ("pgd", spec.pgd_steps, spec.restarts),
        ):
            alpha = spec.alpha_ratio * eps / steps
            attack = partial(
                pgd_restarts,
                model,
                eps=eps,
                alpha=alpha,
                steps=steps,
                restarts=restarts,
                generator=gen,
                pgd_fn=pgd_fn,
            )
            row[key] = mean_acc(attack)
            bar.update(1)
        table["eps"][str(eps)] = row
        bar.set_postfix(eps=eps, pgd=f"{row['pgd']:.3f}")
    bar.close()
    return table
