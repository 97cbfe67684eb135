"""Tuning on the NQM: steps to target, the lr search and its fits, on small problems."""

import math

import numpy as np
import pytest
import torch

from dlcurriculum.ch04_optimization import dynamics, nqm, search, tuning


def test_steps_to_target_first_crossing_and_inf() -> None:
    curves = torch.tensor([[5.0, 3.0, 1.0, 0.5], [5.0, 4.0, 3.0, 2.0], [5.0, math.nan, 0.0, 0.0]])
    assert search.steps_to_target(curves, 1.0).tolist() == [2.0, math.inf, 2.0]


def test_safe_steps_fails_a_run_that_blew_up_before_reaching_the_target() -> None:
    curves = torch.tensor([[4.0, 7.9, 2.0, 0.5], [4.0, 8.0, 2.0, 0.5], [4.0, 0.5, 9.0, 0.1]])
    assert tuning.safe_steps(curves, 1.0, search.steps_to_target).tolist() == [3.0, math.inf, 1.0]


def test_best_lr_refines_a_parabola_vertex() -> None:
    lrs = torch.tensor([[0.25, 0.5, 1.0, 2.0]], dtype=torch.float64)
    steps = torch.exp((lrs.log() - math.log(0.7)) ** 2) * 100  # log-steps parabola, min at 0.7
    lr, best, interior = tuning.best_lr(lrs, steps)
    assert lr.item() == pytest.approx(0.7) and interior.item() and best.item() == steps[0, 1]
    _, _, edge = tuning.best_lr(lrs, steps.flip(-1) * 0 + torch.tensor([1.0, 2, 3, 4]))
    assert not edge.item()


def test_critical_batch_fit_recovers_a_planted_law() -> None:
    b = 2.0 ** np.arange(-3, 8)
    fit = tuning.fit_critical_batch(b, 40 * (1 + 12 / b))
    assert fit["s_min"] == pytest.approx(40) and fit["b_crit"] == pytest.approx(12)
    assert fit["e_min"] == pytest.approx(480) and fit["max_rel_err"] < 1e-9


def _slope(optimizer: str, center: torch.Tensor, batch: torch.Tensor, **kw: object) -> float:
    lrs = tuning.lr_candidates(center, 9, 2**0.5)
    problem = dynamics.nqm_problem(200)
    kw |= {"steps_fn": search.steps_to_target, "adam": nqm.adam_step}
    steps = tuning.steps_grid(problem, optimizer, batch, lrs, 0.5, 20000, **kw)
    lr, _, interior = tuning.best_lr(lrs, steps)
    assert interior.all()
    return tuning.fit_slope(batch, lr)


def test_small_batch_lr_slope_is_one_for_sgd() -> None:
    batch = torch.tensor([1 / 16, 1 / 4, 1])
    assert 0.85 <= _slope("sgd", 0.14 * batch, batch) <= 1.15


def test_small_batch_lr_slope_is_one_half_for_adam() -> None:
    # a 16x span of batch sizes keeps the simulation's noise in the lr small next to the
    # slope (seeds 0-4 give 0.48-0.52)
    batch = torch.tensor([1 / 16, 1 / 4, 1])
    gen = torch.Generator().manual_seed(0)
    slope = _slope("adam", 0.02 * batch.sqrt(), batch, runs=8, generator=gen)
    assert 0.4 <= slope <= 0.6


def test_tune_lr_recentres_a_grid_that_misses_the_optimum() -> None:
    problem = dynamics.nqm_problem(50)
    steps_fn = search.steps_to_target
    good = tuning.tune_lr(problem, "sgd", 1.0, 0.15, 0.5, 5000, steps_fn=steps_fn)
    far = tuning.tune_lr(problem, "sgd", 1.0, 0.15 / 30, 0.5, 5000, steps_fn=steps_fn)
    assert good[3] and far[3]  # both interior, the second after moving the grid twice
    assert far[0] == pytest.approx(good[0], rel=0.05) and far[2] == good[2]
    assert good[1] / good[0] == pytest.approx(1, abs=0.2)  # grid point next to the vertex


def test_loss_curve_uses_the_given_exact_recursion_for_sgd() -> None:
    problem = dynamics.nqm_problem(30)
    lrs = torch.full((40,), 0.2, dtype=torch.float64)
    ref = tuning.loss_curve(problem, "sgd", 2.0, lrs, expected_loss=nqm.nqm_expected_loss)
    exact, _, _ = dynamics.exact_dynamics(*problem, torch.tensor(0.2), 2.0, 40)
    torch.testing.assert_close(ref, exact)
    doubled = tuning.loss_curve(problem, "sgd", 2.0, lrs, expected_loss=lambda *a: 2 * ref)
    torch.testing.assert_close(doubled, 2 * ref)
