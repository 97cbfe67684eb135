"""The NQM's exact expected dynamics against simulation, closed forms and torch.optim."""

import math

import pytest
import torch

from dlcurriculum.ch04_optimization import nqm

SETTINGS = [("sgd", 0.0, 0.0), ("momentum", 0.9, 0.0), ("sgd", 0.0, 0.5), ("momentum", 0.5, 1.0)]


@pytest.mark.parametrize(("optimizer", "beta", "power"), SETTINGS)
def test_simulation_mean_is_within_its_standard_error_of_the_exact_recursion(
    optimizer: str, beta: float, power: float
) -> None:
    h, c, theta0 = nqm.nqm_problem(30)
    lr, batch = torch.tensor([0.05, 0.2]), torch.tensor([2.0, 8.0])
    runs = 3000
    exact, mean, second = nqm.exact_dynamics(
        h, c, theta0, lr, batch, 60, momentum=beta, precond_power=power
    )
    gen = torch.Generator().manual_seed(1)
    sim, theta = nqm.simulate(
        h, c, theta0, lr, batch, 60, optimizer, momentum=beta, runs=runs, generator=gen,
        precond_power=power,
    )  # fmt: skip
    se = sim.std(-2) / math.sqrt(runs)
    z = ((sim.mean(-2) - exact) / se)[..., 1:]  # step 0 is deterministic
    assert z.abs().max() < 4.5 and (z.abs() < 2).float().mean() > 0.8
    z_theta = (theta.mean(-2) - mean) / (theta.std(-2) / math.sqrt(runs))
    assert z_theta.abs().max() < 4.5
    z_second = (theta.pow(2).mean(-2) - second) / (theta.pow(2).std(-2) / math.sqrt(runs))
    assert z_second.abs().max() < 4.5


def test_exact_recursion_matches_the_plain_sgd_exercise_and_a_schedule() -> None:
    h, c, theta0 = nqm.nqm_problem(40)
    schedule = torch.linspace(1.0, 0.1, 50, dtype=torch.float64)
    ref = nqm.nqm_expected_loss(h, c, theta0, 0.4 * schedule, 3.0)
    losses, _, _ = nqm.exact_dynamics(h, c, theta0, torch.tensor(0.4), 3.0, 50, schedule=schedule)
    torch.testing.assert_close(losses, ref)


def test_no_noise_momentum_follows_the_deterministic_heavy_ball() -> None:
    h, c, theta0 = nqm.nqm_problem(10)
    _, mean, second = nqm.exact_dynamics(h, c, theta0, torch.tensor(0.3), math.inf, 20, 0.9)
    theta, v = theta0.clone(), torch.zeros_like(theta0)
    for _ in range(20):
        v = 0.9 * v - 0.3 * h * theta
        theta = theta + v
    torch.testing.assert_close(mean, theta)
    torch.testing.assert_close(second, theta**2)


def test_adam_step_and_heavy_ball_match_torch_optim() -> None:
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(6, generator=gen, dtype=torch.float64)
    p_adam, p_sgd = (torch.nn.Parameter(theta.clone()) for _ in range(2))
    adam = torch.optim.Adam([p_adam], lr=0.1)
    sgd = torch.optim.SGD([p_sgd], lr=0.1, momentum=0.9)
    m, v, mine, vel = torch.zeros(6), torch.zeros(6), theta.clone(), torch.zeros(6)
    heavy = theta.clone()
    for step in range(1, 8):
        grad = torch.randn(6, generator=gen, dtype=torch.float64)
        p_adam.grad, p_sgd.grad = grad.clone(), grad.clone()
        adam.step()
        sgd.step()
        mine, m, v = nqm.adam_step(mine, grad, m, v, step, 0.1)
        vel = 0.9 * vel - 0.1 * grad  # our heavy ball equals torch's at constant lr
        heavy = heavy + vel
    torch.testing.assert_close(mine, p_adam.detach())
    torch.testing.assert_close(heavy, p_sgd.detach())


def test_noise_scale_of_the_default_problem() -> None:
    h, c, _ = nqm.nqm_problem(3)
    theta0 = torch.ones(3, dtype=torch.float64)
    b_simple, b_noise = nqm.noise_scale(h, c, theta0)
    g2 = 1 + 1 / 4 + 1 / 9
    assert b_simple == pytest.approx((1 + 1 / 2 + 1 / 3) / g2)
    assert b_noise == pytest.approx(g2 / (1 + 1 / 8 + 1 / 27))
