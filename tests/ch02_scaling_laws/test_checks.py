"""The graders catch typical mistakes, with a message that says what to fix.

(That each check passes on the reference and fails on the skeleton is covered for every
chapter by tests/core/test_exercises.py.)
"""

from collections.abc import Callable

import numpy as np
import pytest
from torch import nn

from dlcurriculum.ch02_scaling_laws import checks
from dlcurriculum.ch02_scaling_laws.flops import forward_flops, layer_output_shapes
from dlcurriculum.core.checks import run_check


def macs_not_flops(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> int:
    return forward_flops(model, input_shape) // 2


def ignores_groups(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> int:
    total = 0
    for layer, out in layer_output_shapes(model, input_shape):
        if isinstance(layer, nn.Conv2d):
            total += 2 * int(np.prod(out)) * layer.in_channels * 9
        else:
            total += 2 * int(np.prod(out)) * layer.in_features
    return total


def ignores_stride(model: nn.Module, input_shape: tuple[int, ...] = (1, 28, 28)) -> int:
    total, hw = 0, input_shape[1] * input_shape[2]
    for layer, out in layer_output_shapes(model, input_shape):
        if isinstance(layer, nn.Conv2d):
            total += 2 * layer.out_channels * hw * layer.in_channels * 9  # as if stride 1
        else:
            total += 2 * int(np.prod(out)) * layer.in_features
    return total


def frontier_of_all_sorted(compute: np.ndarray, loss: np.ndarray) -> np.ndarray:
    return np.argsort(compute)


def frontier_as_list(compute: np.ndarray, loss: np.ndarray) -> list[int]:
    return [0, 2, 4]


def frontier_keeps_ties(compute: np.ndarray, loss: np.ndarray) -> np.ndarray:
    # compares each run only with strictly cheaper ones, so runs of equal compute all stay
    n = len(loss)
    return np.asarray(
        [
            i
            for i in np.argsort(compute, kind="stable")
            if all(loss[i] < loss[j] for j in range(n) if compute[j] < compute[i])
        ],
        dtype=np.int64,
    )


def fit_wrong_sign(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(intercept)), float(slope)


def fit_mixed_log_bases(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.log10(x), np.log10(y), 1)
    return float(np.exp(intercept)), float(-slope)


def fit_weighted_by_y(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    # fits the log-line but weights points by y: not the least-squares fit of log y
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1, w=y / y.max())
    return float(np.exp(intercept)), float(-slope)


@pytest.mark.parametrize(
    ("check", "impl", "message"),
    [
        (checks.check_forward_flops, macs_not_flops, "count 2 FLOPs per multiply-add"),
        (checks.check_forward_flops, ignores_stride, "stride"),
        (checks.check_forward_flops, ignores_groups, "groups"),
        (checks.check_compute_frontier, frontier_of_all_sorted, "expected [0, 2, 4]"),
        (checks.check_compute_frontier, frontier_as_list, "return an int numpy array"),
        (checks.check_compute_frontier, frontier_keeps_ties, "equal compute"),
        (checks.check_fit_power_law, fit_wrong_sign, "minus the slope"),
        (checks.check_fit_power_law, fit_mixed_log_bases, "same log base"),
        (checks.check_fit_power_law, fit_weighted_by_y, "not the least-squares fit"),
    ],
)
def test_check_catches_a_known_mistake(
    check: Callable[[Callable], None], impl: Callable, message: str
) -> None:
    result = run_check("x", check, impl, None)
    assert not result.passed
    assert message in result.message, result.message
