"""Grader checks for chapter 4: the exact SGD recursion, the Adam step, steps to target.

Oracles: Monte Carlo simulation and the closed form of constant-lr SGD for the recursion;
`torch.optim.Adam` for the Adam step; a plain Python scan for steps to target. Never only
"equals our reference".

Diagnose, then compare: each check first compares the learner's answer with what the
typical mistakes compute (each written here from its formula, on inputs where none of them
equals the right answer) and names the one that matches; then the oracles judge.

Ref: Zhang et al. 2019, sec. 3; Kingma & Ba 2015, algorithm 1.
"""

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from dlcurriculum.ch04_optimization.dynamics import nqm_problem
from dlcurriculum.core.checks import ExerciseFailure, assert_close, name_the_mistake


def _constant_lr_loss(
    h: Tensor, theta0: Tensor, lr: float, noise: Tensor, steps: int, power: int = 2
) -> Tensor:
    """E[θ²] [steps + 1, d] of s ← r s + lr² noise, r = (1 - lr h)^power, in closed form:
    s_t = r^t (s_0 - s*) + s* with s* = lr² noise / (1 - r)."""
    r = (1 - lr * h) ** power
    s_star = lr**2 * noise / (1 - r)
    t = torch.arange(steps + 1, dtype=torch.float64)[:, None]
    return r**t * (theta0**2 - s_star) + s_star


def _without(mistakes: dict[str, Any], right: Tensor) -> dict[str, Any]:
    """The mistakes whose answer differs from the right one on this input."""
    return {
        hint: wrong
        for hint, wrong in mistakes.items()
        if wrong.shape != right.shape or not torch.allclose(wrong, right, rtol=1e-3)
    }


def _recursion_mistakes(
    h: Tensor, c: Tensor, theta0: Tensor, lr: float, batch: float, steps: int
) -> dict[str, Tensor]:
    """What each typical mistake in the recursion returns at constant lr (hint -> losses)."""

    def loss(noise: Tensor, power: int = 2) -> Tensor:
        return 0.5 * (h * _constant_lr_loss(h, theta0, lr, noise, steps, power)).sum(-1)

    right = loss(c / batch)
    mistakes = {
        "divide the noise variance by the batch size: each step adds lr² c / B to E[θ²], "
        "not lr² c": loss(c),
        "the noise variance is c / B: divide by B once, not twice": loss(c / batch**2),
        "the noise enters as lr ε, so it adds lr² c / B to E[θ²]: square the learning rate": loss(
            c / batch / lr
        ),
        "E[((1 - lr h) θ)²] = (1 - lr h)² E[θ²]: square the contraction factor": loss(
            c / batch, power=1
        ),
        "the loss is ½ Σ h_i E[θ_i²]: you left out the ½": 2 * right,
        "the loss is ½ Σ h_i E[θ_i²]: weight each coordinate by its curvature h_i": 0.5
        * _constant_lr_loss(h, theta0, lr, c / batch, steps).sum(-1),
        "return steps + 1 values: index 0 is the loss before the first step": right[1:],
        "return steps + 1 values: the last is the loss after the last step": right[:-1],
    }
    return _without(mistakes, right)


def check_nqm_expected_loss(impl: Callable[..., torch.Tensor]) -> None:
    """Closed form at constant lr, the noise term's 1/B, and Monte Carlo on a schedule."""
    h, c, theta0 = nqm_problem(20)
    lr, batch, steps = 0.3, 4.0, 30
    got = torch.as_tensor(impl(h, c, theta0, torch.full((steps,), lr), batch)).double()
    what = "expected loss at constant lr=0.3, B=4"
    name_the_mistake(got, _recursion_mistakes(h, c, theta0, lr, batch, steps), what)
    closed = 0.5 * (h * _constant_lr_loss(h, theta0, lr, c / batch, steps)).sum(-1)
    assert_close(
        got, closed, what, rtol=1e-6, atol=1e-9,
        hint="the noise adds lr² c / B to E[θ²] each step; the loss is ½ Σ h E[θ²] "
        "(index 0 is before the first step)",
    )  # fmt: skip
    schedule = torch.linspace(0.8, 0.05, 25, dtype=torch.float64)
    exact = torch.as_tensor(impl(h, c, theta0, schedule, 2.0)).double()
    gen = torch.Generator().manual_seed(0)
    # an independent simulation of the same schedule
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


def _adam(
    theta: Tensor,
    grad: Tensor,
    m: Tensor,
    v: Tensor,
    step: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    *,
    correct: bool = True,
    shift: int = 0,
    root: bool = True,
    eps_inside: bool = False,
    sign: float = -1.0,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """One Adam step as Kingma & Ba's algorithm 1 writes it, or with one of the typical
    mistakes switched on: (theta, m, v, m_hat, v_hat)."""
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad**2
    m_hat = m / (1 - b1 ** (step + shift)) if correct else m
    v_hat = v / (1 - b2 ** (step + shift)) if correct else v
    denom = (v_hat + eps).sqrt() if eps_inside else (v_hat.sqrt() if root else v_hat) + eps
    return theta + sign * lr * m_hat / denom, m, v, m_hat, v_hat


def _diagnose_adam(impl: Callable[..., tuple]) -> None:
    """One step from a mid-run state, with a large eps and unequal betas, so that every
    typical mistake gives a different answer; the inputs must come back unchanged."""
    gen = torch.Generator().manual_seed(1)
    theta, grad, m = (torch.randn(3, 5, generator=gen, dtype=torch.float64) for _ in range(3))
    v = torch.rand(3, 5, generator=gen, dtype=torch.float64) + 0.05
    args: tuple[Any, ...] = (3, 0.1, (0.8, 0.95), 0.1)  # step, lr, betas, eps
    inputs = {"theta": theta, "grad": grad, "m": m, "v": v}
    copies = {name: t.clone() for name, t in inputs.items()}
    new_theta, new_m, new_v = impl(theta, grad, m, v, *args)
    for name, t in inputs.items():
        if not torch.equal(t, copies[name]):
            raise ExerciseFailure(
                f"adam_step changed its input {name} in place: compute new tensors "
                "(m = β1 m + (1 - β1) g) and return them; the caller still holds the old ones"
            )
    right, _, _, m_hat, v_hat = _adam(theta, grad, m, v, *args)
    step, lr, betas, eps = args
    mistakes = {
        "bias-correct m by 1 - β1^step and v by 1 - β2^step before dividing": _adam(
            theta, grad, m, v, *args, correct=False
        )[0],
        "eps goes outside the square root: sqrt(v_hat) + eps": _adam(
            theta, grad, m, v, *args, eps_inside=True
        )[0],
        "β1 and β2 are swapped: betas = (β1 for m, β2 for v)": _adam(
            theta, grad, m, v, step, lr, betas[::-1], eps
        )[0],
        "step is 1-based already: bias-correct with β^step, not β^(step + 1)": _adam(
            theta, grad, m, v, *args, shift=1
        )[0],
        "the update goes against the gradient: subtract lr m_hat / (sqrt(v_hat) + eps) "
        "(the sign is wrong)": _adam(theta, grad, m, v, *args, sign=1.0)[0],
        "divide by the square root of v_hat (plus eps), not by v_hat": _adam(
            theta, grad, m, v, *args, root=False
        )[0],
    }
    what = "adam_step at step 3 (lr=0.1, betas=(0.8, 0.95), eps=0.1)"
    name_the_mistake(new_theta, _without(mistakes, right), f"{what}, theta")
    hint = "return the raw moving averages m and v (the next step needs them), not the "
    name_the_mistake(new_m, {hint + "bias-corrected m_hat": m_hat}, f"{what}, m")
    name_the_mistake(new_v, {hint + "bias-corrected v_hat": v_hat}, f"{what}, v")


def check_adam_step(impl: Callable[..., tuple]) -> None:
    """Ten steps on random gradients match torch.optim.Adam, with bias correction."""
    _diagnose_adam(impl)
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
    hint = "lr may be a tensor: multiply by it elementwise, do not call float() on it"
    try:
        got, _, _ = impl(theta, grad, m, v, 11, lrs, (0.8, 0.99), 1e-6)
    except (TypeError, ValueError, RuntimeError) as e:
        if isinstance(e, NotImplementedError):
            raise
        raise ExerciseFailure(f"with a tensor of learning rates [3, 1]: {e}: {hint}") from None
    for row, lr in enumerate(lrs[:, 0].tolist()):
        one, _, _ = impl(theta[row], grad[row], m[row], v[row], 11, lr, (0.8, 0.99), 1e-6)
        assert_close(
            torch.as_tensor(got)[row], one, f"row {row} with a tensor of learning rates [3, 1]",
            hint=hint,
        )  # fmt: skip


def _first_at_or_below(curve: list[float], target: float) -> float:
    """The plain scan: the first t with curve[t] <= target (NaN never is), else inf."""
    return next((float(t) for t, x in enumerate(curve) if x <= target), math.inf)


STEPS_PROBES = [
    # (curve, target, hint for the learner whose answer is the `wrong` one)
    ([3.0, 2.0, 1.0, 0.5], 1.0, 3.0, "a loss equal to the target has reached it: use <=, not <"),
    (
        [3.0, math.nan, math.nan], 1.0, 1.0,
        "NaN never counts: a diverged run never reaches the target (losses <= target is "
        "False for NaN, but ~(losses > target) is True)",
    ),
    ([3.0, 2.0, 1.5], 1.0, 0.0, "a curve that never reaches the target gives inf, not 0 "
                                "(the argmax of all-False is 0)"),
    ([3.0, 0.5, 2.0, 0.8, 0.9], 1.0, 2.0,
     "give the first index at or below the target; counting the steps above it is wrong "
     "for curves that go back up"),
]  # fmt: skip


def _diagnose_steps(impl: Callable[..., torch.Tensor]) -> None:
    what = "steps_to_target(losses of shape (2, 3, 7))"
    hint = "look along the last dim (dim -1, the steps) everywhere, not dim 0"
    try:
        got = torch.as_tensor(impl(torch.rand(2, 3, 7, dtype=torch.float64), 0.5))
    except RuntimeError as e:
        if isinstance(e, NotImplementedError):  # a stub is not a shape mistake
            raise
        raise ExerciseFailure(f"{what} raised RuntimeError: {e}: {hint}") from None
    if got.shape != (2, 3):
        raise ExerciseFailure(f"{what} has shape {tuple(got.shape)}, expected (2, 3): {hint}")
    for curve, target, wrong, hint in STEPS_PROBES:
        right = _first_at_or_below(curve, target)
        got = torch.as_tensor(impl(torch.tensor([curve], dtype=torch.float64), target))
        if got.numel() == 1 and float(got) == wrong != right:
            raise ExerciseFailure(f"steps_to_target({curve}, target={target}) = {wrong}: {hint}")


def check_steps_to_target(impl: Callable[..., torch.Tensor]) -> None:
    """A Python scan over random curves, plus never-reached and NaN curves giving inf."""
    _diagnose_steps(impl)
    gen = torch.Generator().manual_seed(0)
    curves = torch.rand(4, 3, 50, generator=gen, dtype=torch.float64).cumsum(-1).flip(-1)
    curves[0, 0] = 100.0  # never reaches the target
    curves[1, 1, 5:] = math.nan  # diverged
    curves[2, 2, 40:] = 50.0  # comes back up after reaching the target
    target = 10.0
    got = torch.as_tensor(impl(curves, target)).double()
    expected = torch.tensor(
        [[_first_at_or_below(curves[i, j].tolist(), target) for j in range(3)] for i in range(4)]
    )
    if got.shape != expected.shape or not torch.equal(got, expected.double()):
        raise ExerciseFailure(
            f"steps_to_target: got {got.tolist()}, expected {expected.tolist()} "
            "(the first index t with loss <= target; inf if none, and NaN never counts)."
        )
