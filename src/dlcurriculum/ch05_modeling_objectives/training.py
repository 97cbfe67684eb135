"""Training the contrastive encoder, and the two supervised baselines it is compared with.

Like chapter 0, the data stays in memory as one tensor and batches are sliced from it;
the two views are drawn on whole batches at once.

Ref: Chen et al. 2020 (SimCLR); Khosla et al. 2020 (SupCon).
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcurriculum.ch00_mnist.loop import random_shift
from dlcurriculum.ch00_mnist.model import CNN, predict
from dlcurriculum.ch05_modeling_objectives.impl import Impl
from dlcurriculum.ch05_modeling_objectives.model import Encoder
from dlcurriculum.ch05_modeling_objectives.supervised_losses import supcon_loss, triplet_loss

OBJECTIVES = ("simclr", "supcon", "triplet")


def contrastive_loss(
    objective: str,
    encoder: Encoder,
    images: Tensor,
    labels: Tensor,
    generator: torch.Generator,
    ns: Impl,
    temperature: float,
) -> Tensor:
    """The batch loss of one objective; SimCLR never sees `labels`."""
    views = torch.cat([ns.augment(images, generator), ns.augment(images, generator)])
    z = encoder.project(views)  # [2 * batch, proj_dim]
    if objective == "simclr":
        z1, z2 = z.chunk(2)
        return ns.nt_xent_loss(z1, z2, temperature)
    both = torch.cat([labels, labels])
    if objective == "supcon":
        return supcon_loss(z, both, temperature)
    if objective == "triplet":
        return triplet_loss(z, both)
    raise ValueError(f"unknown objective {objective!r}: use one of {OBJECTIVES}")


def train_encoder(
    objective: str,
    encoder: Encoder,
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    temperature: float,
    seed: int,
    ns: Impl,
    log: Callable[[int, float], None],
    log_every: int = 20,
) -> int:
    """AdamW with a one-cycle schedule; calls log(step, mean loss) every log_every steps.

    Returns:
        The number of optimizer steps taken.
    """
    encoder.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # ~2x on CPU
    steps_per_epoch = len(images) // batch_size
    total = epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total)
    aug_rng = torch.Generator().manual_seed(seed * 1_000_003 + 1)
    running = []
    encoder.train()
    for step in range(total):
        epoch, i = divmod(step, steps_per_epoch)
        if i == 0:
            order = torch.randperm(
                len(images), generator=torch.Generator().manual_seed(seed * 9973 + epoch)
            )
        idx = order[i * batch_size : (i + 1) * batch_size]
        loss = contrastive_loss(
            objective, encoder, images[idx], labels[idx], aug_rng, ns, temperature
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        running.append(loss.item())
        if (step + 1) % log_every == 0 or step + 1 == total:
            log(step + 1, sum(running) / len(running))
            running = []
    return total


def linear_probe(
    support: Tensor, support_labels: Tensor, queries: Tensor, steps: int = 300
) -> Tensor:
    """Predictions of a logistic regression fitted on frozen support features."""
    mean, std = support.mean(0), support.std(0) + 1e-6  # standardise: Adam then needs no tuning
    probe = nn.Linear(support.shape[1], int(support_labels.max()) + 1).to(support.device)
    optimizer = torch.optim.Adam(probe.parameters(), lr=0.01, weight_decay=1e-3)
    x = (support - mean) / std
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(probe(x), support_labels).backward()
        optimizer.step()
    with torch.no_grad():
        return probe((queries - mean) / std).argmax(1)


def supervised_on_support(
    images: Tensor, labels: Tensor, queries: Tensor, seed: int, width: int, steps: int = 200
) -> Tensor:
    """Predictions of chapter 0's CNN trained with cross-entropy on the support set alone.

    The baseline the few-shot rule must be compared with: the same labels, no pretraining.
    Random shifts of 2 pixels keep it from memorising so few images outright.
    """
    torch.manual_seed(seed)
    model = CNN(width=width).to(images.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(images), (min(len(images), 128),), generator=g).to(images.device)
        optimizer.zero_grad()
        F.cross_entropy(model(random_shift(images[idx], 2, g)), labels[idx]).backward()
        optimizer.step()
    return predict(model, queries).argmax(1)
