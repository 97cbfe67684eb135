"""Adversarial training raises robust accuracy on a small synthetic task (Tsipras et al. style).

Each 4x4 "image" has one robust pixel (far from 0.5, on the label's side, but with 10% label
noise) and 15 weak pixels (slightly shifted towards the label's side, plus noise). The weak
pixels together predict the label almost perfectly, so standard training leans on them; a
shift of eps = 0.2 flips every weak pixel at once, so PGD breaks that model. PGD training
must learn to lean on the robust pixel instead, which survives the attack.
"""

import torch
from torch import nn

from dlcurriculum.ch00_mnist.loop import Split
from dlcurriculum.ch09_adversarial_training.attacks import accuracy_on, pgd_restarts
from dlcurriculum.ch09_adversarial_training.robust_training import TrainSpec, train_model

EPS = 0.2


def _task(n: int, seed: int) -> Split:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=gen)
    sign = (2 * labels - 1).float()
    agree = torch.where(torch.rand(n, generator=gen) < 0.9, 1.0, -1.0)
    robust = 0.5 + 0.4 * sign * agree
    weak = 0.5 + 0.1 * sign[:, None] + 0.1 * torch.randn(n, 15, generator=gen)
    pixels = torch.cat([robust[:, None], weak], 1).clamp(0, 1)
    return Split(pixels.view(n, 1, 4, 4), labels)


def _trained(method: str) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    spec = TrainSpec(method, epochs=10, eps=EPS, steps=5, alpha=EPS / 2, lr=0.2, batch_size=64)
    train_model(model, _task(2048, seed=1), spec, seed=0, desc=method)
    return model


def test_pgd_training_raises_robust_accuracy_over_standard_training() -> None:
    test = _task(1000, seed=2)
    gen = torch.Generator().manual_seed(3)
    scores = {}
    for method in ("standard", "pgd"):
        model = _trained(method)
        adv = pgd_restarts(model, test.images, test.labels, EPS, EPS / 4, 20, 2, gen)
        scores[method] = (accuracy_on(model, test.images, test.labels),
                          accuracy_on(model, adv, test.labels))  # fmt: skip
    (std_clean, std_robust), (adv_clean, adv_robust) = scores["standard"], scores["pgd"]
    assert std_clean > 0.97, scores  # the weak pixels suffice on clean data
    assert std_robust < 0.5, scores  # ...but an eps-shift flips them all
    assert adv_robust > 0.8, scores  # the robust pixel is right 90% of the time
    assert adv_robust > std_robust + 0.4, scores
    # and it pays in clean accuracy, as Tsipras et al. predict: the weak pixels are given up
    assert 0.85 < adv_clean < std_clean, scores
