"""The chapter 4 graders reject known-wrong versions with a message that points at the bug."""

import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from dlcurriculum.ch04_optimization import checks
from dlcurriculum.core.checks import ExerciseFailure


def _loss_noise_not_divided(h: Tensor, c: Tensor, theta0: Tensor, lrs: Tensor, b: float) -> Tensor:
    s = theta0.double() ** 2
    out = [0.5 * (h * s).sum()]
    for lr in lrs.double():
        s = (1 - lr * h) ** 2 * s + lr**2 * c  # forgot / b
        out.append(0.5 * (h * s).sum())
    return torch.stack(out)


def _adam_no_bias_correction(theta, grad, m, v, step, lr, betas=(0.9, 0.999), eps=1e-8):  # type: ignore[no-untyped-def]
    m = betas[0] * m + (1 - betas[0]) * grad
    v = betas[1] * v + (1 - betas[1]) * grad * grad
    return theta - lr * m / (v.sqrt() + eps), m, v


def _adam_scalar_lr(theta, grad, m, v, step, lr, betas=(0.9, 0.999), eps=1e-8):  # type: ignore[no-untyped-def]
    m = betas[0] * m + (1 - betas[0]) * grad
    v = betas[1] * v + (1 - betas[1]) * grad * grad
    m_hat, v_hat = m / (1 - betas[0] ** step), v / (1 - betas[1] ** step)
    return (
        theta
        - float(torch.as_tensor(lr, dtype=torch.float64).flatten()[0])
        * m_hat
        / (v_hat.sqrt() + eps),
        m,
        v,
    )


def _steps_nan_counts(losses: Tensor, target: float) -> Tensor:
    below = ~(losses > target)  # NaN > target is False, so NaN counts as reached
    first = below.to(torch.int64).argmax(-1).double()
    return torch.where(below.any(-1), first, torch.full_like(first, math.inf))


WRONG: list[tuple[Callable[..., None], Callable[..., object], str]] = [
    (checks.check_nqm_expected_loss, _loss_noise_not_divided, "lr² c / B"),
    (checks.check_adam_step, _adam_no_bias_correction, "bias-correct"),
    (checks.check_adam_step, _adam_scalar_lr, "lr may be a tensor"),
    (checks.check_steps_to_target, _steps_nan_counts, "NaN never counts"),
]


@pytest.mark.parametrize(("check", "impl", "message"), WRONG, ids=[w[2] for w in WRONG])
def test_check_rejects_a_known_wrong_version(
    check: Callable[..., None], impl: Callable[..., object], message: str
) -> None:
    with pytest.raises((ExerciseFailure, AssertionError), match=message):
        check(impl)
