"""Grader checks for chapter 4: the exact SGD recursion, the Adam step, steps to target.

Oracles: Monte Carlo simulation and the closed form of constant-lr SGD for the recursion;
`torch.optim.Adam` for the Adam step; a plain Python scan for steps to target. Never only
"equals our reference".

Ref: Zhang et al. 2019, sec. 3; Kingma & Ba 2015, algorithm 1.
"""

import math
from collections.abc import Callable

import torch

from dlcurriculum.ch04_optimization.nqm import nqm_problem
from dlcurriculum.core.checks import ExerciseFailure, assert_close


def check_nqm_expected_loss(impl: Callable[..., torch.Tensor]) -> None:
    """Closed form at constant lr, the noise term's 1/B, and Monte Carlo on a schedule."""
    h, c, theta0 = nqm_problem(20)
    lr, batch, steps = 0.3, 4.0, 30
    got = impl(h, c, theta0, torch.full((steps,), lr), batch)
    # constant lr: s_t = r^t (s_0 - s*) + s*, r = (1 - lr h)², s* = lr² c / B / (1 - r)
    r = (1 - lr * h) ** 2
    s_star = lr**2 * c / batch / (1 - r)
    t = torch.arange(steps + 1, dtype=torch.float64)[:, None]
    closed = 0.5 * (h * (r**t * (theta0**2 - s_star) + s_star)).sum(-1)
    assert_close(
        torch.as_tensor(got).double(), closed, "expected loss at constant lr=0.3, B=4",
        rtol=1e-6, atol=1e-9,
        hint="the noise adds lr² c / B to E[θ²] each step; the loss is ½ Σ h E[θ²] "
        "(index 0 is before the first step)",
    )  # fmt: skip
    schedule = torch.linspace(0.8, 0.05, 25, dtype=torch.float64)
    exact = torch.as_tensor(impl(h, c, theta0, schedule, 2.0)).double()
    gen = torch.Generator().manual_seed(0)
    # an independent simulation of the same schedule (not nqm.simulate, which takes no schedule)
    theta = theta0.expand(4000, -1).clone()
    sim = [0.5 * (h * theta**2).sum(-1)]
    for a in schedule:
        noise = torch.randn(theta.shape, generator=gen, dtype=theta.dtype)
        theta = theta - a * (h * theta + (c / 2.0).sqrt() * noise)
        sim.append(0.5 * (h * theta**2).sum(-1))
    mc = torch.stack(sim, -1)
    z = ((mc.mean(0) - exact) / (mc.std(0) / math.sqrt(mc.shape[0])).clamp(min=1e-12))[1:]
    if z.abs().max() > 5:
        raise ExerciseFailure(
            f"with a decaying schedule and B=2, the expected loss is {z.abs().max():.1f} "
            "standard errors from the mean of 4000 simulated runs: use lrs[t] at step t."
        )


def check_adam_step(impl: Callable[..., tuple]) -> None:
    """Ten steps on random gradients match torch.optim.Adam, with bias correction."""
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    param = torch.nn.Parameter(theta.clone())
    opt = torch.optim.Adam([param], lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    for step in range(1, 11):
        grad = torch.randn(3, 5, generator=gen, dtype=torch.float64)
        param.grad = grad.clone()
        opt.step()
        theta, m, v = impl(theta, grad, m, v, step, 0.05, (0.8, 0.99), 1e-6)
        assert_close(
            theta, param.detach(), f"theta after step {step} vs torch.optim.Adam",
            atol=1e-10, rtol=1e-8,
            hint="bias-correct m by 1 - β1^step and v by 1 - β2^step; eps goes outside the sqrt",
        )  # fmt: skip
    # `dlc run nqm --impl` passes one rate per setting, as a tensor that broadcasts
    grad = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    lrs = torch.tensor([[0.05], [0.1], [0.2]], dtype=torch.float64)
    got, _, _ = impl(theta, grad, m, v, 11, lrs, (0.8, 0.99), 1e-6)
    for row, lr in enumerate(lrs[:, 0].tolist()):
        one, _, _ = impl(theta[row], grad[row], m[row], v[row], 11, lr, (0.8, 0.99), 1e-6)
        assert_close(
            torch.as_tensor(got)[row], one, f"row {row} with a tensor of learning rates [3, 1]",
            hint="lr may be a tensor: multiply by it elementwise, do not call float() on it",
        )  # fmt: skip


def check_steps_to_target(impl: Callable[..., torch.Tensor]) -> None:
    """A Python scan over random curves, plus never-reached and NaN curves giving inf."""
    gen = torch.Generator().manual_seed(0)
    curves = torch.rand(4, 3, 50, generator=gen, dtype=torch.float64).cumsum(-1).flip(-1)
    curves[0, 0] = 100.0  # never reaches the target
    curves[1, 1, 5:] = math.nan  # diverged
    target = 10.0
    got = torch.as_tensor(impl(curves, target)).double()
    expected = torch.full((4, 3), math.inf, dtype=torch.float64)
    for i in range(4):
        for j in range(3):
            for t, value in enumerate(curves[i, j].tolist()):
                if value <= target:
                    expected[i, j] = t
                    break
    if got.shape != expected.shape or not torch.equal(got, expected):
        raise ExerciseFailure(
            f"steps_to_target: got {got.tolist()}, expected {expected.tolist()} "
            "(the first index t with loss <= target; inf if none, and NaN never counts)."
        )
