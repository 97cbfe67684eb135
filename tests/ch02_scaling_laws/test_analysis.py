"""The fitting pipeline on synthetic sweeps whose exponents are known in closed form."""

import json
from typing import Any

import numpy as np
import pytest

from dlcurriculum.ch02_scaling_laws import analysis, fitting
from dlcurriculum.ch02_scaling_laws.checks import _frontier_brute_force
from dlcurriculum.ch02_scaling_laws.impl import load_impl

NS = load_impl()  # the reference exercises


def synthetic_rows(
    exponent: float = 0.4,
    floor: float = 0.0,
    steps: int = 8,
    seeds: int = 3,
    noise: float = 0.03,
    dropout: float = 0.0,
    rng_seed: int = 0,
) -> list[dict[str, Any]]:
    """A sweep whose loss is L(N, D) = floor + N^-a + D^-a with N, D doubling per step and
    C = 6ND, with multiplicative noise per seed.

    Minimising over N at fixed C puts N = D = sqrt(C/6), so the frontier is
    L(C) = floor + 2 (C/6)^(-a/2): alpha = a/2 exactly, and N_opt ∝ C^0.5.
    Ref: Hoffmann et al. 2022, eq. 4 (with A = B and equal exponents).
    """
    rng = np.random.default_rng(rng_seed)
    rows = []
    for i in range(steps):
        for j in range(steps):
            n, d = 2.0 ** (4 + i), 2.0 ** (4 + j)
            clean = floor + n**-exponent + d**-exponent
            for s in range(seeds):
                loss = clean * np.exp(noise * rng.standard_normal())
                rows.append(
                    {
                        "width": 10 + i,
                        "train_size": int(d),
                        "seed": s,
                        "dropout": dropout,
                        "parameters": n,
                        "examples": d,
                        "compute": 6 * n * d,
                        "val_loss": loss,
                        "val_accuracy": 1 - loss / 4,
                    }
                )
    return rows


def test_pipeline_recovers_the_planted_compute_exponent_within_5_percent() -> None:
    fits = analysis.analyze(synthetic_rows(exponent=0.4), NS, n_boot=200)["0"]
    frontier = fits["frontier"]
    assert frontier["exponent"] == pytest.approx(0.2, rel=0.05)
    lo, hi = frontier["ci"]
    assert lo < frontier["exponent"] < hi and hi - lo < 0.05
    assert frontier["r2"] > 0.99 and frontier["points"] >= 10
    # compute-optimal size: N_opt ∝ C^0.5, by both estimators (coarser: N moves in factors 2)
    assert fits["optimal_size"]["exponent"] == pytest.approx(0.5, abs=0.08)
    assert fits["isoflop_size"]["exponent"] == pytest.approx(0.5, abs=0.08)


def test_irreducible_fit_finds_the_floor() -> None:
    rows = synthetic_rows(exponent=0.4, floor=0.05, noise=0.005)
    pure = analysis.analyze(rows, NS, n_boot=0)["0"]["frontier"]
    floored = analysis.analyze(rows, NS, irreducible=True, n_boot=0)["0"]["frontier"]
    assert floored["e"] == pytest.approx(0.05, rel=0.2)
    assert floored["exponent"] == pytest.approx(0.2, rel=0.1)
    assert floored["r2"] > pure["r2"]  # the floor bends the pure power law
    assert pure["ci"] is None  # no resamples, no interval
    # at a fixed width, L(D) = (floor + N^-a) + D^-a: a floor plus an exact power law in D
    data = analysis.analyze(rows, NS, irreducible=True, n_boot=0)["0"]["data"]
    assert data["exponent"] == pytest.approx(0.4, rel=0.1)
    assert data["e"] == pytest.approx(0.05 + 2.0 ** (-11 * 0.4), rel=0.2)


def test_fit_power_law_and_r2_on_exact_data() -> None:
    x = np.geomspace(1e8, 1e12, 9)
    law = analysis.fit(x, 7.0 * x**-0.3, NS)
    assert (law.a, law.alpha, law.e, law.r2, law.points) == pytest.approx((7.0, 0.3, 0, 1, 9))
    assert np.allclose(law.predict(x), 7.0 * x**-0.3)
    assert analysis.fit(x[:2], x[:2], NS) is analysis.NO_FIT  # too few points for an R²
    assert np.isnan(analysis.fit(np.ones(4), np.ones(4), NS).alpha)


def test_frontier_matches_the_definition_on_random_clouds() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        compute = rng.choice(np.geomspace(1, 1e6, 15), size=30)
        loss = rng.uniform(0.5, 2, size=30)
        got = fitting.compute_frontier(compute, loss)
        assert got.dtype == np.int64
        assert got.tolist() == _frontier_brute_force(compute, loss)
        assert np.all(np.diff(compute[got]) > 0) and np.all(np.diff(loss[got]) < 0)


def test_isoflop_optima_sit_where_the_planted_law_puts_them() -> None:
    rows = synthetic_rows(exponent=0.4, noise=0.0, seeds=1)
    g = analysis.to_grid(rows, 0.0)
    budgets, sizes = analysis.isoflop_optima(g, g.loss.mean(1))
    assert len(budgets) >= 8
    # the exact optimum is N = sqrt(C / 6); a parabola in log N gets within a few percent
    assert np.allclose(sizes, np.sqrt(budgets / 6), rtol=0.05)


def test_bootstrap_is_deterministic_and_the_summary_is_plain_json() -> None:
    rows = synthetic_rows(steps=4, seeds=2) + synthetic_rows(steps=4, seeds=2, dropout=0.2)
    a = analysis.analyze(rows, NS, n_boot=30, seed=5)
    b = analysis.analyze(rows, NS, n_boot=30, seed=5)
    assert a == b and set(a) == {"0", "0.2"}
    assert set(a["0"]) == set(analysis.FITS)
    json.loads(json.dumps(a, allow_nan=False))  # nan became None: valid JSON
    with pytest.raises(ValueError, match="different seeds"):
        analysis.to_grid(rows[:-1], 0.2)
