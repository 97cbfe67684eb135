"""Attacks against independent oracles, and the PGD check against wrong versions."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcurriculum.ch09_adversarial_training import attacks, checks, robust_training
from dlcurriculum.core.checks import ExerciseFailure


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10)
    ).eval()


def test_fgsm_is_the_sign_gradient_step_computed_by_hand() -> None:
    model = _cnn()
    x, y = torch.rand(6, 1, 28, 28), torch.randint(0, 10, (6,))
    probe = x.clone().requires_grad_(True)
    F.cross_entropy(model(probe), y).backward()
    expected = (x + 0.1 * probe.grad.sign()).clamp(0, 1)
    torch.testing.assert_close(robust_training.fgsm(model, x, y, 0.1), expected)


def test_pgd_finds_the_closed_form_optimum_on_a_linear_model() -> None:
    model = checks._linear_model(3)
    x, y = torch.rand(64, 1, 4, 4), torch.randint(0, 2, (64,))
    adv = attacks.pgd(model, x, y, 0.3, 0.1, 10, True, torch.Generator().manual_seed(1))
    torch.testing.assert_close(adv, checks.optimal_linf_attack(model, x, y, 0.3))


def test_pgd_and_restarts_stay_in_the_ball_and_raise_the_loss() -> None:
    model = _cnn()
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    gen = torch.Generator().manual_seed(0)
    for adv in (
        attacks.pgd(model, x, y, 0.05, 0.01, 10, True, gen),
        attacks.pgd_restarts(model, x, y, 0.05, 0.01, 10, 3, gen),
    ):
        assert (adv - x).abs().max() <= 0.05 + 1e-6
        assert adv.min() >= 0 and adv.max() <= 1
        with torch.no_grad():
            assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)


def test_restarts_never_do_worse_than_their_first_start() -> None:
    model = _cnn()
    x, y = torch.rand(32, 1, 28, 28), torch.randint(0, 10, (32,))
    one = attacks.pgd_restarts(model, x, y, 0.02, 0.005, 3, 1, torch.Generator().manual_seed(5))
    many = attacks.pgd_restarts(model, x, y, 0.02, 0.005, 3, 4, torch.Generator().manual_seed(5))
    assert attacks.accuracy_on(model, many, y) <= attacks.accuracy_on(model, one, y)


def test_check_pgd_passes_on_the_reference() -> None:
    checks.check_pgd(attacks.pgd)


def _descends(model, images, labels, eps, alpha, steps, random_start=True, generator=None):
    return attacks.pgd(model, images, labels, eps, -alpha, steps, random_start, generator)


def _unprojected(model, images, labels, eps, alpha, steps, random_start=True, generator=None):
    x = images.clone()
    for _ in range(steps):
        x = x + alpha * attacks.input_gradient(model, x, labels).sign()
    return x


def _train_mode(model, images, labels, eps, alpha, steps, random_start=True, generator=None):
    delta = torch.zeros_like(images)
    if random_start:  # right in every other respect, so only the batch-norm check can catch it
        delta = (torch.rand(images.shape, generator=generator) * 2 - 1) * eps
        delta = (images + delta).clamp(0, 1) - images
    for _ in range(steps):  # the classic bug: batch norm sees the adversarial batch in train mode
        x = (images + delta).requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x), labels), x)
        delta = (delta + alpha * grad.sign()).clamp(-eps, eps)
        delta = (images + delta).clamp(0, 1) - images
    return images + delta.detach()


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_descends, "ascent, not descent"),
        (_unprojected, "project delta back onto"),
        (_train_mode, "batch norm's running statistics changed"),
    ],
)
def test_check_pgd_rejects_known_wrong_versions(wrong, message) -> None:
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_pgd(wrong)
