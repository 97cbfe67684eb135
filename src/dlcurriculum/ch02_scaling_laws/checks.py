"""Grader checks for chapter 2: FLOP counts, the compute frontier, the power-law fit.

Oracles: `torch.utils.flop_counter.FlopCounterMode` and hand counts for FLOPs; a brute-force
scan of the definition for the frontier; planted exponents and least-squares optimality
for the fit. Never only "equals our reference". Each check first tries the answers of the
typical mistakes (computed here, by hand) so that its message names the mistake.
"""

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlcurriculum.ch00_mnist.model import CNN
from dlcurriculum.ch02_scaling_laws.flop_counter import measured_flops
from dlcurriculum.core.checks import ExerciseFailure, name_the_mistake

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


# what the typical mistakes count on the hand net, each written out by hand
HAND_NET_MISTAKES = {
    "you returned multiply-adds: count 2 FLOPs per multiply-add": sum(HAND_NET_MACS.values()),
    "you multiplied by kernel_h only: a conv output value sums over both kernel dimensions "
    "(kernel_h x kernel_w)": 2 * (2 * 28 * 28 * 1 * 3 + 4 * 14 * 14 * 2 * 3 + 784 * 10),
    "you counted one output per channel: a conv computes a dot product at every output "
    "position, so multiply by h_out x w_out (math.prod of the output shape)": 2
    * (2 * 1 * 9 + 4 * 2 * 9 + 784 * 10),
    "you skipped the Linear layer: nn.Linear layers count too (out values x in_features)": 2
    * (HAND_NET_MACS["conv1"] + HAND_NET_MACS["conv2"]),
    "an nn.Linear output value is a dot product of length in_features, not out_features": 2
    * (HAND_NET_MACS["conv1"] + HAND_NET_MACS["conv2"] + 10 * 10),
    "conv2 has stride 2: count its 14x14 outputs, not the 28x28 input positions (stride "
    "shows up through the output size)": 2
    * (HAND_NET_MACS["conv1"] + 4 * 28 * 28 * 2 * 9 + HAND_NET_MACS["linear"]),
}


def check_forward_flops(forward_flops: Callable[..., int]) -> None:
    """Hand counts, FlopCounterMode on the CNN family and a grouped conv, and no side effects."""
    expected = 2 * sum(HAND_NET_MACS.values())
    got = forward_flops(_hand_net(), (1, 28, 28))
    if not isinstance(got, int):
        raise ExerciseFailure(f"forward_flops returned {type(got).__name__}, expected a Python int")
    what = (
        "forward_flops on Conv2d(1,2,3,padding=1) -> Conv2d(2,4,3,stride=2,padding=1) -> "
        f"Linear(784,10): got {got:,}, expected {expected:,}"
    )
    name_the_mistake(got, HAND_NET_MISTAKES, what, atol=0.0, rtol=0.0)
    if got != expected:
        raise ExerciseFailure(
            f"{what} = 2 x multiply-adds {HAND_NET_MACS}. Count each Conv2d and Linear "
            "layer's multiply-adds from its output shape."
        )
    grouped = nn.Conv2d(4, 8, 3, groups=2)  # 8 x 8x8 outputs, each over 4 / 2 channels x 3x3
    got = forward_flops(grouped, (4, 10, 10))
    name_the_mistake(
        got,
        {
            "you ignored groups: each output channel sees in_channels / groups input channels, "
            "so divide in_channels by groups": 2 * 8 * 64 * 4 * 9
        },
        f"forward_flops(Conv2d(4, 8, 3, groups=2), (4, 10, 10)) = {got:,}",
        atol=0.0,
        rtol=0.0,
    )
    models: list[tuple[str, nn.Module, tuple[int, ...]]] = [
        (f"CNN(width={w})", CNN(width=w), (1, 28, 28)) for w in (2, 5, 8)
    ]
    models.append(("Conv2d(4, 8, 3, groups=2)", grouped, (4, 10, 10)))
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


def _counted_flops(model: nn.Module, x: torch.Tensor, backward: bool) -> int:
    """FLOPs of a forward (and backward) pass on batch x, as FlopCounterMode counts them."""
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(x)
        if backward:
            out.sum().backward()
    return counter.get_total_flops()


def check_training_flops(training_flops: Callable[..., int]) -> None:
    """A training step's FLOPs as FlopCounterMode counts them, per example, times the examples."""
    model, batch, examples = _hand_net(), 4, 1000
    # the input needs a gradient too, so every layer's backward computes both of its products
    x = torch.rand(batch, 1, 28, 28, requires_grad=True)
    forward = _counted_flops(model, x, backward=False) // batch
    step = _counted_flops(model, x, backward=True) // batch
    got = training_flops(forward, examples)
    if not isinstance(got, int):
        raise ExerciseFailure(
            f"training_flops returned {type(got).__name__}, expected a Python int"
        )
    backward = (
        "the backward pass computes two products per layer, the gradient for its input and "
        "the one for its weights, each as costly as the forward"
    )
    name_the_mistake(
        got,
        {
            f"you counted the forward pass alone: training also runs the backward pass, and "
            f"{backward}": forward * examples,
            f"you counted the backward pass as costly as the forward: {backward}, so a "
            "training step is 3x the forward": 2 * forward * examples,
            "6x is too much: forward_flops already counts 2 FLOPs per multiply-add, and "
            "Kaplan's C = 6N per token is that 2N forward plus 4N backward, i.e. 3x the forward": 6
            * forward
            * examples,
            "you returned one example's training FLOPs: multiply by the examples seen": 3 * forward,
        },
        f"training_flops(forward_per_example={forward:,}, examples={examples}) = {got:,}",
        atol=0.0,
        rtol=0.0,
    )
    if got != step * examples:
        raise ExerciseFailure(
            f"training_flops(forward_per_example={forward:,}, examples={examples}) = {got:,}, "
            f"but FlopCounterMode counts {step:,} FLOPs per example for the forward and "
            f"backward pass of a small conv net, so {step * examples:,} for {examples} examples"
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
    """A hand example, ties, duplicates, and random clouds against a brute-force scan."""
    compute = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    loss = np.array([3.0, 3.5, 2.0, 2.5, 1.0])
    got = compute_frontier(compute, loss)
    if not isinstance(got, np.ndarray) or got.dtype.kind not in "iu":
        raise ExerciseFailure(
            f"compute_frontier returned {type(got).__name__}: return an int numpy array of "
            "indices (np.asarray(indices, dtype=np.int64))"
        )
    what = (
        f"compute {compute.tolist()}, loss {loss.tolist()}: got {got.tolist()}, expected [0, 2, 4]"
    )
    mistakes = {
        "you kept every run: after keeping a run, update the best loss seen so far, and keep "
        "the next run only if it beats it": [0, 1, 2, 3, 4],
        "you kept only the lowest loss: sort by compute, not by loss (np.lexsort's primary key "
        "is its last one: np.lexsort((loss, compute)))": [4],
    }
    for hint, wrong in mistakes.items():
        if got.tolist() == wrong:
            raise ExerciseFailure(f"{what}: {hint}")
    if got.tolist() != [0, 2, 4]:
        raise ExerciseFailure(
            f"{what}. Runs 1 and 3 lose to a cheaper run with lower loss, so they are off "
            "the frontier."
        )
    tie = compute_frontier(np.array([1.0, 1.0, 2.0]), np.array([2.0, 1.0, 1.5]))
    if tie.tolist() != [1]:
        raise ExerciseFailure(
            f"compute [1, 1, 2], loss [2, 1, 1.5]: got {tie.tolist()}, expected [1]: with equal "
            "compute only the lower loss can be on the frontier (break ties in the sort by "
            "loss), and 1.5 > 1 is not"
        )
    duplicate = compute_frontier(np.array([1.0, 2.0, 2.0]), np.array([2.0, 1.0, 1.0]))
    if duplicate.tolist() != [0, 1]:
        raise ExerciseFailure(
            f"compute [1, 2, 2], loss [2, 1, 1]: got {duplicate.tolist()}, expected [0, 1]: runs "
            "1 and 2 are exact duplicates, and only the first (smaller index) is kept: keep a run "
            "only if its loss is strictly below the best so far (<, not <=)"
        )
    rng = np.random.default_rng(0)
    for trial in range(5):
        compute = rng.choice(np.geomspace(1e6, 1e12, 20), size=40)  # repeats make ties
        loss = rng.uniform(0.1, 2.0, size=40) * compute**-0.05
        expected = _frontier_brute_force(compute, loss)
        got_list = compute_frontier(compute, loss).tolist()
        if sorted(got_list) == sorted(expected) and got_list != expected:
            raise ExerciseFailure(
                f"random cloud {trial} (40 runs, seed 0): got {got_list}, expected {expected}: "
                "the right runs in the wrong order: return them in increasing compute"
            )
        if got_list != expected:
            raise ExerciseFailure(
                f"random cloud {trial} (40 runs, seed 0): got {got_list}, expected {expected} "
                "(in increasing compute). Sort by compute, then keep a run only if its loss is "
                "below every cheaper run's."
            )


def _power_law_mistakes(x: np.ndarray, y: np.ndarray, a: float, alpha: float) -> dict:
    """(a, alpha) that the typical mistakes return on the exact law y = a x^-alpha."""
    slope, intercept = np.polyfit(x, y, 1)  # a straight line through y, not log y
    return {
        "wrong sign: alpha is minus the slope of log y on log x": (a, -alpha),
        "you returned the intercept as a: a = exp(intercept)": (np.log(a), alpha),
        "you fitted a line to x and y: fit it in log-log space, to log x and log y": (
            np.exp(intercept),
            -slope,
        ),
        "you took log10 of x but ln of y: use the same log for both": (a, alpha * np.log(10)),
        "a is exp(intercept) in the same log base you took: with log10, a = 10**intercept": (
            np.exp(np.log10(a)),
            alpha,
        ),
        "you regressed log x on log y: np.polyfit(log x, log y, 1) fits log y as a function "
        "of log x": (a ** (1 / alpha), 1 / alpha),
    }


def check_fit_power_law(fit_power_law: Callable[..., tuple[float, float]]) -> None:
    """Exact and noisy planted laws, the sign convention, and least-squares optimality."""
    x = np.geomspace(1e6, 1e12, 12)
    for a, alpha in ((3.0, 0.3), (2.0, -0.5)):
        y = a * x**-alpha
        got = fit_power_law(x, y)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise ExerciseFailure("fit_power_law must return a tuple (a, alpha)")
        what = (
            f"y = {a} * x^(-{alpha}) exactly: got (a, alpha) = ({got[0]:.6g}, {got[1]:.6g}), "
            f"expected ({a}, {alpha})"
        )
        for hint, wrong in _power_law_mistakes(x, y, a, alpha).items():
            if np.allclose(got, wrong, rtol=1e-6, atol=0):
                raise ExerciseFailure(f"{what}: {hint}")
        if not np.allclose(got, (a, alpha), rtol=1e-6):
            raise ExerciseFailure(
                f"{what}. alpha is minus the slope of log y on log x, and a is exp(intercept) "
                "in the same log base you took."
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
