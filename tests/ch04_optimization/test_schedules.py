"""The constant-then-decay schedule family and its black-box tuning."""

import math

import torch

from dlcurriculum.ch04_optimization import dynamics, nqm, schedules, search, tuning


def test_decay_holds_then_halves_every_half_life() -> None:
    mult = schedules.decay(torch.tensor([0.0, 10.0, 5.0]), torch.tensor([4.0, 2.0, math.inf]))
    torch.testing.assert_close(mult(0), torch.tensor([1.0, 1.0, 1.0]))
    torch.testing.assert_close(mult(8), torch.tensor([0.25, 1.0, 1.0]))
    torch.testing.assert_close(mult(14), torch.tensor([2.0**-3.5, 0.25, 1.0]))
    lrs = schedules.schedule_lrs(0.4, 10.0, 2.0, 16)
    assert lrs.shape == (16,) and lrs[:11].eq(0.4).all() and lrs[14] == 0.1


def test_schedule_grid_starts_with_the_constant_rate() -> None:
    grid = schedules.schedule_grid(0.2, 100.0)
    n = 1 + len(schedules.PEAKS) * len(schedules.STARTS) * len(schedules.HALF_LIVES)
    assert all(v.shape == (n,) for v in grid.values())
    assert grid["lr0"][0] == 0.2 and math.isinf(grid["half_life"][0])
    assert grid["half_life"][1:].isfinite().all() and (grid["lr0"] >= 0.2).all()


def test_tuned_schedule_beats_the_constant_rate_when_noise_dominates() -> None:
    problem = dynamics.nqm_problem(100)
    steps_fn = search.steps_to_target
    lr, _, steps, interior = tuning.tune_lr(
        problem, "sgd", 0.25, 0.035, 0.4, 20000, steps_fn=steps_fn
    )
    assert interior
    found = schedules.tune_schedule(problem, "sgd", 0.25, lr, steps, 0.4, 20000, steps_fn=steps_fn)
    assert found["steps"] < 0.8 * steps and math.isfinite(found["half_life"])
    # the schedule it reports really takes that many steps on the exact recursion
    lrs = schedules.schedule_lrs(found["lr0"], found["start"], found["half_life"], int(steps))
    curve = nqm.nqm_expected_loss(*problem, lrs, 0.25)
    assert search.steps_to_target(curve, 0.4) == found["steps"]
