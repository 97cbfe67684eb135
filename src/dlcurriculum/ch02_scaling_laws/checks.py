"""Grader checks for chapter 2: the FLOP counter, the compute frontier, the power-law fit.

Oracles: `torch.utils.flop_counter.FlopCounterMode` and hand counts for FLOPs; a brute-force
scan of the definition for the frontier; planted exponents and least-squares optimality
for the fit. Never only "equals our reference".
"""

from collections.abc import Callable

import numpy as np
from torch import nn

from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch02_scaling_laws.flops import measured_flops
from dlcurriculum.core.checks import ExerciseFailure

# a tiny net counted by hand: conv 1->2 on 28x28, conv 2->4 stride 2 to 14x14, linear 784->10
HAND_NET_MACS = {"conv1": 2 * 28 * 28 * 1 * 9, "conv2": 4 * 14 * 14 * 2 * 9, "linear": 784 * 10}


def _hand_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Conv2d(2, 4, 3, stride=2, padding=1),
        nn.Flatten(),
        nn.Linear(4 * 14 * 14, 10),
    )


def check_forward_flops(forward_flops: Callable[..., int]) -> None:
    """Hand counts, FlopCounterMode on the CNN family and a grouped conv, and no side effects."""
    expected = 2 * sum(HAND_NET_MACS.values())
    got = forward_flops(_hand_net(), (1, 28, 28))
    if not isinstance(got, int):
        raise ExerciseFailure(f"forward_flops returned {type(got).__name__}, expected a Python int")
    if got != expected:
        hint = (
            "you returned multiply-adds: count 2 FLOPs per multiply-add"
            if 2 * got == expected
            else "check that stride shows up through the output size (conv2 outputs 14x14)"
        )
        raise ExerciseFailure(
            f"forward_flops on Conv2d(1,2,3,padding=1) -> Conv2d(2,4,3,stride=2,padding=1) -> "
            f"Linear(784,10): got {got:,}, expected {expected:,} = 2 x multiply-adds "
            f"{HAND_NET_MACS}. Hint: {hint}."
        )
    models: list[tuple[str, nn.Module, tuple[int, ...]]] = [
        (f"CNN(width={w})", CNN(width=w), (1, 28, 28)) for w in (2, 5, 8)
    ]
    models.append(("Conv2d(4, 8, 3, groups=2)", nn.Conv2d(4, 8, 3, groups=2), (4, 10, 10)))
    for name, model, shape in models:
        model.train()
        got, oracle = forward_flops(model, shape), measured_flops(model, shape)
        if got != oracle:
            raise ExerciseFailure(
                f"forward_flops({name}, {shape}) = {got:,}, but FlopCounterMode counts "
                f"{oracle:,}. Each output value of a conv costs (in_channels / groups) x "
                "kernel_h x kernel_w multiply-adds; bias, batch norm and ReLU are not counted."
            )
        if not model.training:
            raise ExerciseFailure(
                f"forward_flops({name}) left the model in eval mode: restore model.train() "
                "(layer_output_shapes does this for you)"
            )


def _frontier_brute_force(compute: np.ndarray, loss: np.ndarray) -> list[int]:
    """The definition, checked pair by pair: beat every run with no more compute."""
    keep = []
    for i in range(len(compute)):
        rivals = [
            j
            for j in range(len(compute))
            if j != i
            and compute[j] <= compute[i]
            and not (j > i and compute[j] == compute[i] and loss[j] == loss[i])
        ]
        if all(loss[j] > loss[i] for j in rivals):
            keep.append(i)
    return sorted(keep, key=lambda i: (compute[i], loss[i]))


def check_compute_frontier(compute_frontier: Callable[..., np.ndarray]) -> None:
    """A hand example, ties, shuffled input, and random clouds against a brute-force scan."""
    compute = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    loss = np.array([3.0, 3.5, 2.0, 2.5, 1.0])
    got = compute_frontier(compute, loss)
    if not isinstance(got, np.ndarray) or got.dtype.kind not in "iu":
        raise ExerciseFailure(
            f"compute_frontier returned {type(got).__name__}: return an int numpy array of "
            "indices (np.asarray(indices, dtype=np.int64))"
        )
    if got.tolist() != [0, 2, 4]:
        raise ExerciseFailure(
            f"compute {compute.tolist()}, loss {loss.tolist()}: got {got.tolist()}, expected "
            "[0, 2, 4]. Runs 1 and 3 lose to a cheaper run with lower loss, so they are off "
            "the frontier."
        )
    tie = compute_frontier(np.array([1.0, 1.0, 2.0]), np.array([2.0, 1.0, 1.5]))
    if tie.tolist() != [1]:
        raise ExerciseFailure(
            f"compute [1, 1, 2], loss [2, 1, 1.5]: got {tie.tolist()}, expected [1]: with equal "
            "compute only the lower loss can be on the frontier, and 1.5 > 1 is not"
        )
    rng = np.random.default_rng(0)
    for trial in range(5):
        compute = rng.choice(np.geomspace(1e6, 1e12, 20), size=40)  # repeats make ties
        loss = rng.uniform(0.1, 2.0, size=40) * compute**-0.05
        expected = _frontier_brute_force(compute, loss)
        got_list = compute_frontier(compute, loss).tolist()
        if got_list != expected:
            raise ExerciseFailure(
                f"random cloud {trial} (40 runs, seed 0): got {got_list}, expected {expected} "
                "(in increasing compute). Sort by compute, then keep a run only if its loss is "
                "below every cheaper run's."
            )


def check_fit_power_law(fit_power_law: Callable[..., tuple[float, float]]) -> None:
    """Exact and noisy planted laws, the sign convention, and least-squares optimality."""
    x = np.geomspace(1e6, 1e12, 12)
    for a, alpha in ((3.0, 0.3), (2.0, -0.5)):
        got = fit_power_law(x, a * x**-alpha)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise ExerciseFailure("fit_power_law must return a tuple (a, alpha)")
        if not np.allclose(got, (a, alpha), rtol=1e-6):
            raise ExerciseFailure(
                f"y = {a} * x^(-{alpha}) exactly: got (a, alpha) = ({got[0]:.6g}, {got[1]:.6g}), "
                f"expected ({a}, {alpha}). alpha is minus the slope of log y on log x, and a is "
                "exp(intercept) in the same log base you took."
            )
    rng = np.random.default_rng(1)
    y = 5.0 * x**-0.25 * np.exp(0.05 * rng.standard_normal(len(x)))
    a, alpha = fit_power_law(x, y)
    if abs(alpha - 0.25) > 0.0125:
        raise ExerciseFailure(
            f"y = 5 x^(-0.25) with 5% multiplicative noise: fitted alpha = {alpha:.4f}, not "
            "within 5% of 0.25. Fit a straight line in log-log space, not in linear space."
        )

    def sse(a: float, alpha: float) -> float:
        return float(((np.log(y) - np.log(a) + alpha * np.log(x)) ** 2).sum())

    best = sse(a, alpha)
    for da, dalpha in ((1.01, 0.0), (0.99, 0.0), (1.0, 1e-3), (1.0, -1e-3)):
        if sse(a * da, alpha + dalpha) < best - 1e-12:
            raise ExerciseFailure(
                f"(a, alpha) = ({a:.5g}, {alpha:.5g}) is not the least-squares fit of log y: "
                f"(a x {da}, alpha + {dalpha}) fits better. Minimise the squared error of "
                "log y (np.polyfit on the logs), not of y."
            )
