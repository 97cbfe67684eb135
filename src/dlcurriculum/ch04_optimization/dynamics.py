"""The noisy quadratic model testbed: the problem, its exact expected dynamics under heavy-ball
SGD, and a vectorised stochastic simulation (SGD, momentum, Adam).

The loss is L(θ) = ½ Σ_i h_i θ_i², and a minibatch gradient of size B is H θ + ε with
ε ~ N(0, C / B), H and C diagonal. Every coordinate evolves on its own, so the mean and
second moment of the iterate follow small linear recursions that give the expected loss
after any schedule without sampling. The simulation runs many noisy trajectories at once
with one tensor axis per swept setting. Support code for the experiment, not an exercise:
the exercises (`nqm.nqm_expected_loss`, `nqm.adam_step`) are passed in where they are used.

Ref: Zhang et al. 2019, "Which Algorithmic Choices Matter at Which Batch Sizes?", sec. 3;
McCandlish et al. 2018, "An Empirical Model of Large-Batch Training", sec. 2.
"""

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

Optimizer = Literal["sgd", "momentum", "adam"]
Stop = Callable[[Tensor], bool]
"""Called every CHECK_EVERY steps with the loss curves so far; True ends the run early."""
CHECK_EVERY = 64
Schedule = Tensor | Callable[[int], Tensor]
"""Learning-rate multiplier per step: a tensor [steps] shared by every setting, or a
function of the step t (0-based) giving one multiplier per setting, broadcastable to S."""


def nqm_problem(
    d: int, seed: int = 0, dtype: torch.dtype = torch.float64
) -> tuple[Tensor, Tensor, Tensor]:
    """The default testbed: h_i = c_i = 1/i, started at θ_0 ~ N(0, I) drawn with `seed`.

    Ref: Zhang et al. 2019, sec. 3.1 (H = C = diag(1/i)).

    Why random: from θ_0 = 1 in every coordinate, Adam's first, nearly sign-descent step
    (lr sign(g)) moves every coordinate by the same amount towards the minimum, so at
    large batch it reaches the target in one or two steps and its steps-vs-batch curve
    never flattens. Coordinates of mixed sizes and signs remove that coincidence.

    Returns:
        (h, c, theta0), each of shape [d].
    """
    h = 1.0 / torch.arange(1, d + 1, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    return h, h.clone(), torch.randn(d, generator=gen, dtype=dtype)


def noise_scale(h: Tensor, c: Tensor, theta: Tensor) -> tuple[float, float]:
    """(B_simple, B_noise) at θ: tr(C)/|g|² and tr(HC)/(gᵀHg) with g = Hθ.

    Ref: McCandlish et al. 2018, eq. 2.6 and 2.8.
    """
    g = h * theta
    return float(c.sum() / (g * g).sum()), float((h * c).sum() / (g * h * g).sum())


def expected_noise_scale(h: Tensor, c: Tensor, second_moment: Tensor) -> tuple[float, float]:
    """(B_simple, B_noise) of a random iterate: tr(C)/E|g|² and tr(HC)/E[gᵀHg], g = Hθ.

    Along a noisy run the iterate is a distribution, not a point: near the target at small
    batch its spread, not its mean, makes up most of the gradient. With E[θ_i²] given,
    E|g|² = Σ h_i² E[θ_i²] and E[gᵀHg] = Σ h_i³ E[θ_i²]; for a point (E[θ²] = θ²) this
    is `noise_scale`.

    Args:
        second_moment: E[θ²] per coordinate, shape [..., d] (e.g. from `exact_dynamics`).
    """
    g2 = (h * h * second_moment).sum(-1)
    ghg = (h**3 * second_moment).sum(-1)
    return float(c.sum() / g2), float((h * c).sum() / ghg)


def _multiplier(schedule: Schedule | None, t: int, trailing: int) -> Tensor | float:
    """The schedule's multiplier at step t, with `trailing` axes added for runs and d."""
    if schedule is None:
        return 1.0
    if isinstance(schedule, Tensor):
        return schedule[t]
    return torch.as_tensor(schedule(t))[(...,) + (None,) * trailing]


def _shapes(lr: Tensor, batch_size: Tensor | float, h: Tensor) -> tuple[Tensor, Tensor]:
    """Step size per coordinate and noise variance per coordinate, [*settings, d] each."""
    lr = torch.as_tensor(lr, dtype=h.dtype)
    batch = torch.as_tensor(batch_size, dtype=h.dtype)
    lr, batch = torch.broadcast_tensors(lr, batch)
    return lr[..., None], (1.0 / batch)[..., None]


def exact_dynamics(
    h: Tensor,
    c: Tensor,
    theta0: Tensor,
    lr: Tensor,
    batch_size: Tensor | float,
    steps: int,
    momentum: float = 0.0,
    precond_power: float = 0.0,
    schedule: Schedule | None = None,
    stop: Stop | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Exact mean and second moment of heavy-ball SGD preconditioned by P = H^-p.

    Ref: Zhang et al. 2019, sec. 3.2 and appendix A (the per-coordinate 2x2 system).

    Per coordinate, with a = lr h^-p and x = (θ, v): v ← βv - a(hθ + ε), θ ← θ + v, so
    x ← A x + (-a, -a) ε with A = [[1 - ah, β], [-ah, β]]. The mean follows A and the
    raw second moments (θθ, θv, vv) follow A M Aᵀ plus a² c / B in every entry.

    Args:
        h, c, theta0: the problem, shape [d].
        lr: peak learning rate per setting, any shape S (broadcast with batch_size).
        batch_size: batch size per setting, broadcastable to S.
        steps: maximum number of steps.
        momentum: heavy-ball β.
        precond_power: p in P = H^-p (0: plain SGD, 1: Newton-like).
        schedule: optional multiplier of lr at each step (see `Schedule`).
        stop: optional early stop, called with the loss curves so far.

    Returns:
        (losses [*S, T + 1], mean θ [*S, d], E[θ²] [*S, d]) after the T <= steps steps run.
    """
    lr_b, inv_b = _shapes(lr, batch_size, h)
    a0 = lr_b * h ** (-precond_power)  # [*S, d]
    noise = c * inv_b
    mt = theta0.expand_as(a0).clone()
    mv = torch.zeros_like(mt)
    tt, tv, vv = mt**2, torch.zeros_like(mt), torch.zeros_like(mt)
    beta = momentum
    # preallocated, so the early-stop test reads a view instead of re-stacking a list
    losses = torch.empty(*a0.shape[:-1], steps + 1, dtype=a0.dtype)
    losses[..., 0] = 0.5 * (h * tt).sum(-1)
    t = -1
    for t in range(steps):
        a = a0 * _multiplier(schedule, t, 1)
        a11, a21 = 1 - a * h, -a * h
        q = a * a * noise  # the noise enters θ and v through the same -a ε
        if beta == 0:  # plain SGD: v is just the last step, so θ's moments suffice
            mt, tt = a11 * mt, a11 * a11 * tt + q
        else:
            mt, mv = a11 * mt + beta * mv, a21 * mt + beta * mv
            tt, tv, vv = (
                a11 * a11 * tt + 2 * a11 * beta * tv + beta * beta * vv + q,
                a11 * a21 * tt + (a11 * beta + beta * a21) * tv + beta * beta * vv + q,
                a21 * a21 * tt + 2 * a21 * beta * tv + beta * beta * vv + q,
            )
        losses[..., t + 1] = 0.5 * (h * tt).sum(-1)
        if stop is not None and (t + 1) % CHECK_EVERY == 0 and stop(losses[..., : t + 2]):
            break
    return losses[..., : t + 2], mt, tt


def simulate(
    h: Tensor,
    c: Tensor,
    theta0: Tensor,
    lr: Tensor,
    batch_size: Tensor | float,
    steps: int,
    optimizer: Optimizer = "sgd",
    momentum: float = 0.9,
    runs: int = 16,
    generator: torch.Generator | None = None,
    precond_power: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    schedule: Schedule | None = None,
    stop: Stop | None = None,
    adam: Callable[..., tuple[Tensor, Tensor, Tensor]] | None = None,
    common_noise: bool = False,
) -> tuple[Tensor, Tensor]:
    """Run `runs` independent noisy trajectories per setting, all in one tensor.

    Ref: Zhang et al. 2019, sec. 4 (Adam has no closed form on the NQM, so it is simulated);
    Kingma & Ba 2015, algorithm 1.

    Args:
        h, c, theta0: the problem, shape [d]; their dtype is the simulation's.
        lr, batch_size: per setting, broadcast to a shape S.
        steps: maximum number of steps.
        optimizer: "sgd" (no momentum), "momentum" (heavy ball, as `exact_dynamics`) or
            "adam" (with bias correction; `momentum` is then unused).
        runs: independent trajectories per setting.
        generator: source of the gradient noise.
        precond_power: p in P = H^-p for sgd and momentum.
        betas, eps: Adam's hyperparameters.
        schedule: optional multiplier of lr at each step (see `Schedule`).
        stop: optional early stop, called with the run-averaged loss curves so far.
        adam: the Adam update for "adam": the exercise `nqm.adam_step` (the learner's in
            `--impl` runs).
        common_noise: give every setting the same noise draws (run r of one setting sees
            the standard normals of run r of every other). Each setting's statistics are
            unchanged, but differences between settings (which lr is best) are far less
            noisy: the common-random-numbers trick.

    Returns:
        (losses [*S, runs, T + 1], final θ [*S, runs, d]).
    """
    lr_b, inv_b = _shapes(lr, batch_size, h)
    a = (lr_b * h ** (-precond_power))[..., None, :]  # [*S, 1, d]
    std = (c * inv_b).sqrt()[..., None, :]
    theta = theta0.expand(*lr_b.shape[:-1], runs, h.shape[0]).clone()
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    beta = momentum if optimizer == "momentum" else 0.0
    if optimizer == "adam" and adam is None:
        raise ValueError("simulate(optimizer='adam') needs adam=, the Adam step to run")
    losses = torch.empty(*theta.shape[:-1], steps + 1, dtype=theta.dtype)
    losses[..., 0] = 0.5 * (h * theta**2).sum(-1)
    t = 0
    for t in range(1, steps + 1):
        shape = theta.shape[-2:] if common_noise else theta.shape
        z = torch.randn(shape, generator=generator, dtype=theta.dtype)
        g = h * theta + std * z
        k = _multiplier(schedule, t - 1, 2)
        if optimizer == "adam":
            assert adam is not None  # checked above
            theta, m, v = adam(theta, g, m, v, t, lr_b[..., None, :] * k, betas, eps)
        else:
            m = beta * m - a * k * g  # m holds the velocity v of the heavy-ball recursion
            theta = theta + m
        losses[..., t] = 0.5 * (h * theta**2).sum(-1)
        if stop is not None and t % CHECK_EVERY == 0 and stop(losses[..., : t + 1].mean(-2)):
            break
    return losses[..., : t + 1], theta
