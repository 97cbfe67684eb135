"""`dlc run nqm`: learning-rate scaling and steps-to-target vs batch size on the NQM.

For each optimiser (SGD, heavy-ball momentum 0.9, Adam) and each batch size, the best
constant learning rate is the one reaching the target loss in the fewest steps (exact
search on a log grid, `tuning.tune_lr`), and a constant-then-decay schedule is tuned
around it (`schedules.tune_schedule`). The report fits the small-batch LR slope and, for
both, the critical batch size of S(B) = S_min (1 + B_crit / B); the criteria judge the
tuned schedules (or the constant rates with `schedules=false`). Batch sizes below 1 are allowed:
on the NQM the batch size only divides the noise, so B = 1/4 is C scaled by 4, which
reaches deeper into the noise-dominated regime at a fixed target.

Ref: Zhang et al. 2019, "Which Algorithmic Choices Matter at Which Batch Sizes?", fig. 3-5;
McCandlish et al. 2018, "An Empirical Model of Large-Batch Training", sec. 2.
"""

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dlcurriculum.ch04_optimization import dynamics, schedules, tuning
from dlcurriculum.ch04_optimization.config import OPTIMIZERS, PRESETS, NQMConfig
from dlcurriculum.ch04_optimization.impl import Impl, load_impl
from dlcurriculum.ch04_optimization.report import NQM_CRITERIA, nqm_figures, nqm_sections
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish

GROWTH = {"sgd": 2.0, "momentum": 2.0, "adam": 2**0.5}
"""How the best lr grows per doubling of B at small batch: the next batch's first guess."""


def lr_guess(optimizer: str, batch: float) -> float:
    """Where the smallest batch size's lr grid is centred; `tuning.tune_lr` corrects it.

    In the noise-dominated regime SGD's best rate is about 0.14 B and momentum's ten times
    smaller (its effective rate is lr / (1 - β)); Adam's steps are normalised by the
    noise's scale, so its rate grows like sqrt(B).
    """
    return {"sgd": 0.14 * batch, "momentum": 0.014 * batch, "adam": 0.02 * batch**0.5}[optimizer]


def _thin(curve: Tensor, points: int = 300) -> dict[str, list]:
    """A loss curve at about `points` log-spaced steps, so summary.json stays small."""
    idx = torch.unique(torch.logspace(0, math.log10(len(curve)), points).long() - 1)
    return {"step": idx.tolist(), "loss": curve[idx].tolist()}


def sweep_optimizer(
    cfg: NQMConfig, optimizer: str, problem: tuple, ns: Impl, bar: Any
) -> dict[str, Any]:
    """Best constant lr and tuned schedule per batch size for one optimiser, with the fits.

    The steps reported for a choice are measured again after the search (exact for SGD,
    through the learner-replaceable recursion, and momentum; fresh Adam runs), so the
    winner's luck on the search's noise does not bias Adam's steps.
    """
    opt: dynamics.Optimizer = optimizer  # type: ignore[assignment]
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    grid: dict[str, Any] = {"runs": cfg.runs, "generator": gen, "steps_fn": ns.steps_to_target}
    grid["adam"] = ns.adam_step
    curve_kw: dict[str, Any] = {
        "runs": cfg.eval_runs,
        "expected_loss": ns.nqm_expected_loss,
        "adam": ns.adam_step,
    }
    picks = {0, cfg.n_batches // 2, cfg.n_batches - 1}
    out: dict[str, Any] = {"batch_sizes": list(cfg.batch_sizes), "best_lr": [], "interior": []}
    const_steps, sched_steps, params, curves = [], [], [], {}
    center = lr_guess(optimizer, cfg.batch_sizes[0])
    for i, b in enumerate(cfg.batch_sizes):
        lr, grid_lr, grid_steps, interior = tuning.tune_lr(
            problem, opt, b, center, cfg.target, cfg.max_steps, cfg.n_lrs, cfg.lr_ratio, **grid
        )
        center = lr * GROWTH[optimizer]
        out["best_lr"].append(lr)
        out["interior"].append(interior)
        horizon = int(min(cfg.max_steps, 2 * grid_steps + 64))

        def measure(lrs: Tensor, i: int = i, b: float = b) -> tuple[float, Tensor]:
            # the same fresh noise for every measurement at this batch size, so that
            # constant and scheduled Adam runs are compared on equal luck
            gen_i = torch.Generator().manual_seed(cfg.seed + 1000 + i)
            curve = tuning.loss_curve(problem, opt, b, lrs, generator=gen_i, **curve_kw)
            return float(tuning.safe_steps(curve, cfg.target, ns.steps_to_target)), curve

        # the parabola's vertex estimates the optimum best where steps vary smoothly with
        # lr (it gives the LR slope); where they do not (momentum's oscillations at large
        # B) the grid point can be faster, so the steps study keeps the faster of the two
        tries = [(*measure(torch.full((horizon,), x)), x) for x in (lr, grid_lr)]
        steps, curve, used_lr = min(tries, key=lambda t: t[0])
        const_steps.append(steps)
        if i in picks:
            curves[f"{optimizer}/B={b:g}/constant"] = _thin(curve)
        if cfg.schedules:
            scale = steps if math.isfinite(steps) else grid_steps
            found = schedules.tune_schedule(
                problem, opt, b, used_lr, scale, cfg.target, cfg.max_steps, **grid
            )
            lrs = schedules.schedule_lrs(found["lr0"], found["start"], found["half_life"], horizon)
            steps, curve = measure(lrs)
            sched_steps.append(steps)
            params.append({k: v for k, v in found.items() if k != "steps"})
            if i in picks:
                curves[f"{optimizer}/B={b:g}/schedule"] = _thin(curve)
        bar.update(1)
        bar.set_postfix(opt=optimizer, B=f"{b:g}", steps=const_steps[-1])
    k = cfg.slope_batches
    out["lr_slope"] = tuning.fit_slope(cfg.batch_sizes[:k], out["best_lr"][:k])
    out["constant"] = _steps_fits(cfg.batch_sizes, const_steps)
    out["schedule"] = _steps_fits(cfg.batch_sizes, sched_steps) if cfg.schedules else None
    if cfg.schedules:
        out["schedule"]["params"] = params
    out["curves"] = curves
    return out


def _steps_fits(batch_sizes: tuple[float, ...], steps: list[float]) -> dict[str, Any]:
    first, last = tuning.local_slopes(batch_sizes, steps)
    fit = tuning.fit_critical_batch(batch_sizes, steps)
    return {"steps": steps, "slope_small": first, "slope_large": last, "fit": fit}


def noise_scale_at_target(cfg: NQMConfig, problem: tuple, sgd: dict[str, Any]) -> tuple:
    """(B_simple, B_noise) of SGD's iterates where its smallest-batch run reaches the target.

    McCandlish et al. 2018 (sec. 2.2) predict B_crit ≈ B_noise measured during training;
    at small batch the noise scale at the target barely depends on B, so the smallest
    batch's run, at its tuned constant lr, stands for all. (None, None) if it never got there.
    """
    steps = sgd["constant"]["steps"][0]
    if not math.isfinite(steps):
        return None, None
    h, c, theta0 = problem
    lr = torch.tensor(sgd["best_lr"][0])
    _, _, second = dynamics.exact_dynamics(h, c, theta0, lr, cfg.batch_sizes[0], int(steps))
    return dynamics.expected_noise_scale(h, c, second)


def run(cfg: NQMConfig, run_dir: Path) -> Result:
    """Sweep every optimiser, fit the laws, write summary.json."""
    clock = runs.Stopwatch()
    ns = load_impl(cfg.impl)
    problem = dynamics.nqm_problem(cfg.dim, cfg.seed)
    h, c, theta0 = problem
    results = {}
    with runs.MetricLogger(run_dir) as logger, runs.progress(3 * cfg.n_batches, "nqm") as bar:
        for i, opt in enumerate(OPTIMIZERS):
            results[opt] = sweep_optimizer(cfg, opt, problem, ns, bar)
            fits = {f"charts/lr_slope_{opt}": results[opt]["lr_slope"]}
            fits[f"charts/b_crit_constant_{opt}"] = results[opt]["constant"]["fit"]["b_crit"]
            if cfg.schedules:
                fits[f"charts/b_crit_schedule_{opt}"] = results[opt]["schedule"]["fit"]["b_crit"]
            logger.log(i, **fits)
    b_simple, b_noise = dynamics.noise_scale(h, c, theta0)
    b_simple_t, b_noise_t = noise_scale_at_target(cfg, problem, results["sgd"])
    summary = {
        "optimizers": results,
        "steps_from": "schedule" if cfg.schedules else "constant",
        "initial_loss": float(0.5 * (h * theta0**2).sum()),
        "b_simple_init": b_simple,
        "b_noise_init": b_noise,
        "b_simple_target": b_simple_t,
        "b_noise_target": b_noise_t,
        "wall_time_s": clock.elapsed,
    }
    return finish(run_dir, summary)


NQM = ExperimentSpec(
    name="nqm",
    title="Chapter 4: critical batch sizes on the noisy quadratic model",
    presets=PRESETS["nqm"],
    run=run,
    criteria=NQM_CRITERIA,
    figures=nqm_figures,
    sections=nqm_sections,
    next_steps=(
        "Lower `--set target=...`: the noise scale grows as the loss falls, so every critical "
        "batch size grows. Try `--set dim=10000` (the paper's size) or `--preset full`."
    ),
)
