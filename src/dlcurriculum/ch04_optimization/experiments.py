"""`dlc run nqm`: learning-rate scaling and steps-to-target vs batch size on the NQM.

For each optimiser (SGD, heavy-ball momentum 0.9, Adam) and each batch size, the best
constant learning rate is the one reaching the target loss in the fewest steps (exact
search on a log grid, `search.steps_grid`). The report fits the small-batch LR slope and
the critical batch size of S(B) = S_min (1 + B_crit / B). Batch sizes below 1 are allowed:
on the NQM the batch size only divides the noise, so B = 1/4 is C scaled by 4, which
reaches deeper into the noise-dominated regime at a fixed target.

Ref: Zhang et al. 2019, "Which Algorithmic Choices Matter at Which Batch Sizes?", fig. 3-5;
McCandlish et al. 2018, "An Empirical Model of Large-Batch Training", sec. 2.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch04_optimization import nqm, search
from dlcurriculum.ch04_optimization.plots import report_figures, report_sections
from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import Criterion, RunRecord, Verdict

OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclass(frozen=True)
class NQMConfig(RunConfig):
    """The NQM h_i = c_i = 1/i, θ_0 = 1, swept over batch sizes x learning rates."""

    dim: int = 1000
    """Dimension d of the quadratic."""
    target: float = 1.0
    """Target expected loss (the initial loss is ½ Σ 1/i, about 3.7 at d = 1000)."""
    min_log2_batch: int = -4
    """Smallest batch size is 2^min_log2_batch (below 1: more noise than one example)."""
    n_batches: int = 13
    """Batch sizes 2^k for k = min_log2_batch, ..., min_log2_batch + n_batches - 1."""
    n_lrs: int = 13
    """Learning rates tried per batch size and optimiser."""
    lr_ratio: float = 1.4142135623730951
    """Ratio between neighbouring learning rates of the grid."""
    slope_batches: int = 3
    """The smallest this-many batch sizes give the small-batch LR slope."""
    max_steps: int = 20000
    """Steps after which a run counts as never reaching the target."""
    runs: int = 4
    """Simulated Adam trajectories averaged per setting."""

    def __post_init__(self) -> None:
        assert self.dim >= 10 and self.target > 0 and self.n_batches >= 4
        assert self.n_lrs >= 3 and self.lr_ratio > 1 and self.runs >= 1
        assert 2 <= self.slope_batches <= self.n_batches

    @property
    def batch_sizes(self) -> tuple[float, ...]:
        """The batch sizes, smallest first."""
        k0 = self.min_log2_batch
        return tuple(2.0**k for k in range(k0, k0 + self.n_batches))


PRESETS = {
    "smoke": NQMConfig(dim=50, target=0.8, min_log2_batch=-1, n_batches=4, n_lrs=7, runs=2),
    "quick": NQMConfig(min_log2_batch=-3, n_batches=12, n_lrs=9, max_steps=10_000),
    "full": NQMConfig(dim=10_000, target=2.0, n_batches=15, runs=8, max_steps=50_000),
}


def lr_centers(optimizer: str, batch: torch.Tensor) -> torch.Tensor:
    """Where each batch size's lr grid is centred: a rough guess, checked by `interior`.

    SGD and momentum are stable below lr h_max < 2 (h_max = 1) and 2(1 + β) respectively,
    and grow ~B below it; Adam's steps are normalised, so its rates grow ~sqrt(B).
    """
    if optimizer == "sgd":
        return (0.2 * batch).clamp(max=1.0)
    if optimizer == "momentum":
        return (0.02 * batch).clamp(max=0.6)
    return (0.03 * batch.sqrt()).clamp(max=0.3)


def sweep_optimizer(cfg: NQMConfig, optimizer: str, problem: tuple) -> dict[str, Any]:
    """Best lr and steps to target per batch size for one optimiser, with the fits."""
    batch = torch.tensor(cfg.batch_sizes, dtype=torch.float64)
    lrs = search.lr_candidates(lr_centers(optimizer, batch), cfg.n_lrs, cfg.lr_ratio)
    gen = torch.Generator().manual_seed(cfg.seed)
    opt: nqm.Optimizer = optimizer  # type: ignore[assignment]
    steps = search.steps_grid(problem, opt, batch, lrs, cfg.target, cfg.max_steps, cfg.runs, gen)
    lr, best, interior = search.best_lr(lrs, steps)
    k = cfg.slope_batches
    first, last = search.local_slopes(cfg.batch_sizes, best.tolist())
    return {
        "batch_sizes": list(cfg.batch_sizes),
        "best_lr": lr.tolist(),
        "steps": best.tolist(),
        "interior": interior.tolist(),
        "lr_slope": search.fit_slope(cfg.batch_sizes[:k], lr[:k].tolist()),
        "steps_slope_small": first,
        "steps_slope_large": last,
        "fit": search.fit_critical_batch(cfg.batch_sizes, best.tolist()),
    }


def loss_curves(cfg: NQMConfig, problem: tuple, results: dict[str, Any]) -> dict[str, Any]:
    """Exact expected loss curves of SGD and momentum at their best lr, three batch sizes."""
    h, c, theta0 = problem
    picks = sorted({0, cfg.n_batches // 2, cfg.n_batches - 1})
    curves: dict[str, Any] = {}
    for opt, beta in (("sgd", 0.0), ("momentum", 0.9)):
        res = results[opt]
        for i in picks:
            steps = int(min(3 * res["steps"][i], cfg.max_steps))
            lr = torch.tensor(res["best_lr"][i])
            b = res["batch_sizes"][i]
            losses, _, _ = nqm.exact_dynamics(h, c, theta0, lr, b, steps, momentum=beta)
            curves[f"{opt}/B={b:g}"] = losses.tolist()
    return curves


def run(cfg: NQMConfig, run_dir: Path) -> Result:
    """Sweep every optimiser, fit the laws, write summary.json."""
    clock = runs.Stopwatch()
    problem = nqm.nqm_problem(cfg.dim)
    h, c, theta0 = problem
    results = {}
    with runs.MetricLogger(run_dir) as logger:
        for i, opt in enumerate(OPTIMIZERS):
            results[opt] = sweep_optimizer(cfg, opt, problem)
            logger.log(i, **{f"charts/b_crit_{opt}": results[opt]["fit"]["b_crit"]})
    b_simple, b_noise = nqm.noise_scale(h, c, theta0)
    summary = {
        "optimizers": results,
        "initial_loss": float(0.5 * (h * theta0**2).sum()),
        "b_simple_init": b_simple,
        "b_noise_init": b_noise,
        "curves": loss_curves(cfg, problem, results),
        "wall_time_s": clock.elapsed,
    }
    return finish(run_dir, summary)


def _opt(record: RunRecord, name: str) -> dict[str, Any]:
    return record.summary["optimizers"][name]  # type: ignore[no-any-return]


def _slope(name: str, lo: float, hi: float) -> Criterion:
    def judge(record: RunRecord) -> Verdict:
        s = _opt(record, name)["lr_slope"]
        return Verdict(lo <= s <= hi, f"{s:.3f}")

    return Criterion(f"{name}: small-batch LR slope in [{lo}, {hi}]", judge)


def _scaling(record: RunRecord) -> Verdict:
    parts, ok = [], True
    for name in OPTIMIZERS:
        r = _opt(record, name)
        small, large = r["steps_slope_small"], r["steps_slope_large"]
        ok = ok and -1.25 <= small <= -0.75 and large >= -0.35
        parts.append(f"{name}: {small:.2f} → {large:.2f}")
    return Verdict(ok, "; ".join(parts))


def _critical(record: RunRecord) -> Verdict:
    b = {n: _opt(record, n)["fit"]["b_crit"] for n in OPTIMIZERS}
    ok = b["momentum"] > b["sgd"] and b["adam"] > b["sgd"]
    shown = ", ".join(f"{n} {v:.3g}" for n, v in b.items())
    ratios = f"(momentum/sgd {b['momentum'] / b['sgd']:.2f}, adam/sgd {b['adam'] / b['sgd']:.2f})"
    return Verdict(ok, f"B_crit: {shown} {ratios}")


NQM = ExperimentSpec(
    name="nqm",
    title="Chapter 4: critical batch sizes on the noisy quadratic model",
    presets=PRESETS,
    run=run,
    criteria=(
        _slope("sgd", 0.85, 1.15),
        _slope("adam", 0.4, 0.6),
        Criterion(
            "steps-vs-batch slope ~-1 at small B (in [-1.25, -0.75]) and flat at large B "
            "(≥ -0.35), every optimiser",
            _scaling,
        ),
        Criterion("momentum and Adam have larger critical batch sizes than SGD", _critical),
    ),
    figures=report_figures,
    sections=report_sections,
    next_steps=(
        "Lower `--set target=...`: the noise scale grows as the loss falls, so every critical "
        "batch size grows. Compare B_crit with B_noise at initialisation in the table."
    ),
)
