"""The NQM's exact expected dynamics against simulation, closed forms and torch.optim."""

import math

import pytest
import torch

from dlcurriculum.ch04_optimization import dynamics, nqm

SETTINGS = [
    ("sgd", 0.0, 0.0, False),
    ("momentum", 0.9, 0.0, False),
    ("sgd", 0.0, 0.5, True),
    ("momentum", 0.5, 1.0, True),
]


def _decay() -> dynamics.Schedule:
    """A different schedule per setting: halving every 10 steps from step 0 and from step 30."""
    return lambda t: torch.exp2(-(t - torch.tensor([0.0, 30.0])).clamp(min=0) / 10)


@pytest.mark.parametrize(("optimizer", "beta", "power", "decay"), SETTINGS)
def test_simulation_mean_is_within_its_standard_error_of_the_exact_recursion(
    optimizer: str, beta: float, power: float, decay: bool
) -> None:
    h, c, theta0 = dynamics.nqm_problem(30)
    lr, batch = torch.tensor([0.05, 0.2]), torch.tensor([2.0, 8.0])
    runs = 3000
    schedule = _decay() if decay else None
    exact, mean, second = dynamics.exact_dynamics(
        h, c, theta0, lr, batch, 60, momentum=beta, precond_power=power, schedule=schedule
    )
    gen = torch.Generator().manual_seed(1)
    sim, theta = dynamics.simulate(
        h, c, theta0, lr, batch, 60, optimizer, momentum=beta, runs=runs, generator=gen,
        precond_power=power, schedule=schedule,
    )  # fmt: skip
    se = sim.std(-2) / math.sqrt(runs)
    z = ((sim.mean(-2) - exact) / se)[..., 1:]  # step 0 is deterministic
    assert z.abs().max() < 4.5 and (z.abs() < 2).float().mean() > 0.8
    z_theta = (theta.mean(-2) - mean) / (theta.std(-2) / math.sqrt(runs))
    assert z_theta.abs().max() < 4.5
    z_second = (theta.pow(2).mean(-2) - second) / (theta.pow(2).std(-2) / math.sqrt(runs))
    assert z_second.abs().max() < 4.5


def test_exact_recursion_matches_the_plain_sgd_exercise_and_a_schedule() -> None:
    h, c, theta0 = dynamics.nqm_problem(40)
    schedule = torch.linspace(1.0, 0.1, 50, dtype=torch.float64)
    ref = nqm.nqm_expected_loss(h, c, theta0, 0.4 * schedule, 3.0)
    losses, _, _ = dynamics.exact_dynamics(
        h, c, theta0, torch.tensor(0.4), 3.0, 50, schedule=schedule
    )
    torch.testing.assert_close(losses, ref)


def test_per_setting_schedule_equals_one_shared_schedule_per_setting() -> None:
    h, c, theta0 = dynamics.nqm_problem(20)
    lr, batch = torch.tensor([0.3, 0.6]), torch.tensor([1.0, 4.0])
    both, _, _ = dynamics.exact_dynamics(h, c, theta0, lr, batch, 50, 0.5, schedule=_decay())
    for i, start in enumerate((0.0, 30.0)):
        shared = torch.exp2(-(torch.arange(50.0) - start).clamp(min=0) / 10).double()
        one, _, _ = dynamics.exact_dynamics(h, c, theta0, lr[i], batch[i], 50, 0.5, schedule=shared)
        torch.testing.assert_close(both[i], one)


def test_adam_simulation_is_deterministic_and_uses_the_given_step() -> None:
    h, c, theta0 = dynamics.nqm_problem(20)
    args = (h, c, theta0, torch.tensor(0.05), 2.0, 30, "adam")
    with pytest.raises(ValueError, match="needs adam="):  # no silent default: --impl runs
        dynamics.simulate(*args, runs=4)  # pass the learner's step
    gen = [torch.Generator().manual_seed(0) for _ in range(2)]
    a, _ = dynamics.simulate(*args, runs=4, generator=gen[0], adam=nqm.adam_step)
    b, _ = dynamics.simulate(*args, runs=4, generator=gen[1], adam=nqm.adam_step)
    torch.testing.assert_close(a, b)
    frozen, _ = dynamics.simulate(*args, runs=4, adam=lambda theta, g, m, v, *_: (theta, m, v))
    assert (frozen == frozen[..., :1]).all()  # a step that never moves keeps the loss


def test_common_noise_shares_draws_across_settings_and_keeps_each_unbiased() -> None:
    h, c, theta0 = dynamics.nqm_problem(30)
    lr = torch.tensor([0.1, 0.1, 0.3])
    gen = torch.Generator().manual_seed(2)
    sim, _ = dynamics.simulate(
        h, c, theta0, lr, 2.0, 40, runs=2000, generator=gen, common_noise=True
    )
    assert torch.equal(sim[0], sim[1])  # same rate, same draws: the same trajectories
    exact, _, _ = dynamics.exact_dynamics(h, c, theta0, lr, 2.0, 40)
    z = ((sim.mean(-2) - exact) / (sim.std(-2) / math.sqrt(2000)))[..., 1:]
    assert z.abs().max() < 4.5


def test_random_start_is_seeded() -> None:
    _, _, a = dynamics.nqm_problem(100, seed=3)
    _, _, b = dynamics.nqm_problem(100, seed=3)
    _, _, other = dynamics.nqm_problem(100, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, other)
    assert 0.7 < a.std() < 1.3 and (a > 0).any() and (a < 0).any()


def test_no_noise_momentum_follows_the_deterministic_heavy_ball() -> None:
    h, c, theta0 = dynamics.nqm_problem(10)
    _, mean, second = dynamics.exact_dynamics(h, c, theta0, torch.tensor(0.3), math.inf, 20, 0.9)
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
    h, c, _ = dynamics.nqm_problem(3)
    theta0 = torch.ones(3, dtype=torch.float64)
    b_simple, b_noise = dynamics.noise_scale(h, c, theta0)
    g2 = 1 + 1 / 4 + 1 / 9
    assert b_simple == pytest.approx((1 + 1 / 2 + 1 / 3) / g2)
    assert b_noise == pytest.approx(g2 / (1 + 1 / 8 + 1 / 27))


def test_expected_noise_scale_of_a_point_and_of_a_spread() -> None:
    h, c, theta0 = dynamics.nqm_problem(50)
    assert dynamics.expected_noise_scale(h, c, theta0**2) == pytest.approx(
        dynamics.noise_scale(h, c, theta0)
    )
    # Monte Carlo oracle: average gᵀHg over samples of a random iterate with E[θ²] = s
    s = torch.linspace(0.1, 2.0, 50, dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    theta = torch.randn(20000, 50, generator=gen, dtype=torch.float64) * s.sqrt()
    ghg = (h**3 * theta**2).sum(-1).mean()
    assert dynamics.expected_noise_scale(h, c, s)[1] == pytest.approx(
        float((h * c).sum() / ghg), rel=0.02
    )
