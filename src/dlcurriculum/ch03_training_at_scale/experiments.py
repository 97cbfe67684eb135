"""Chapter 3's experiments: `dlc run dp-mnist | dp-transformer | pipeline | tensor-parallel`.

Each run trains the same model twice, in one process and in `world_size` processes that it
launches itself (torch.distributed or mpiexec), and reports how far the two learning curves
(and, for model parallelism, the first step's logits and gradients) are apart. On a
cluster the same worker code runs under torchrun; see the chapter page.
"""

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dlcurriculum.ch03_training_at_scale import mp_train
from dlcurriculum.ch03_training_at_scale.comm import SingleComm
from dlcurriculum.ch03_training_at_scale.config import PRESETS, DPConfig, ModelParallelConfig
from dlcurriculum.ch03_training_at_scale.dp_train import train_dp
from dlcurriculum.ch03_training_at_scale.launch import launch_mpi, launch_torch
from dlcurriculum.ch03_training_at_scale.pipeline import bubble_fraction
from dlcurriculum.ch03_training_at_scale.report import (
    DP_CRITERIA,
    EXACT_STEPS,
    LOSS_TOL,
    MODEL_PARALLEL_CRITERIA,
    NEXT,
    NOISE_MARGIN,
    PERTURB,
    curves,
    dp_sections,
    mp_sections,
)
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.seed import choose_device


def _parallel(fn: Callable[..., Any], cfg: Any, backend: str, *args: Any) -> list[Any]:
    """Launch `fn` on cfg.world_size processes with the config's backend."""
    if backend == "mpi":
        return launch_mpi(fn, cfg.world_size, cfg, *args, timeout_s=cfg.timeout_s)
    device = choose_device(cfg.device)
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    dist_backend = "nccl" if gpus >= cfg.world_size else "gloo"  # NCCL wants a GPU per rank
    return launch_torch(
        fn, cfg.world_size, cfg, *args, backend=dist_backend, timeout_s=cfg.timeout_s
    )


def _max_diff(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def _steps_outside_noise(single: list[float], parallel: list[float], control: list[float]) -> int:
    """Steps where the 1-vs-W gap so far exceeds max(LOSS_TOL, NOISE_MARGIN x control's)."""
    gap = noise = 0.0
    outside = 0
    for a, b, c in zip(single, parallel, control, strict=True):
        gap, noise = max(gap, abs(a - b)), max(noise, abs(a - c))
        outside += gap > max(LOSS_TOL, NOISE_MARGIN * noise)
    return outside


def run_dp(cfg: DPConfig, run_dir: Path) -> Result:
    """Train 1 process and cfg.world_size processes (and DDP), log both curves, compare."""
    clock = runs.Stopwatch()
    choose_device(cfg.device)
    jobs = 4 if cfg.compare_ddp else 3
    with runs.progress(jobs, f"{cfg.model}: 1 process, then {cfg.world_size}") as bar:
        single = train_dp(SingleComm(), cfg)
        bar.update(1)
        control = train_dp(SingleComm(), cfg, perturb=PERTURB)
        bar.update(1)
        parallel = _parallel(train_dp, cfg, cfg.backend, "ours")
        bar.update(1)
        ddp = None
        if cfg.compare_ddp:
            ddp = _parallel(train_dp, dataclasses.replace(cfg, zero=False), "torch", "ddp")
            bar.update(1)
    with runs.MetricLogger(run_dir) as logger:
        for step, loss in enumerate(single["losses"]):
            row = {
                "losses/single": loss,
                "losses/parallel": parallel[0]["losses"][step],
                "losses/control": control["losses"][step],
            }
            if ddp:
                row["losses/ddp"] = ddp[0]["losses"][step]
            logger.log(step, **row)
    summary: dict[str, Any] = {
        "params": single["params"],
        "max_loss_diff": _max_diff(single["losses"], parallel[0]["losses"]),
        "max_loss_diff_exact_steps": _max_diff(
            single["losses"][:EXACT_STEPS], parallel[0]["losses"][:EXACT_STEPS]
        ),
        "noise_floor": _max_diff(single["losses"], control["losses"]),
        "steps_outside_noise": _steps_outside_noise(
            single["losses"], parallel[0]["losses"], control["losses"]
        ),
        "ranks_agree": max(_max_diff(parallel[0]["losses"], p["losses"]) for p in parallel),
        "ranks_param_checksums": [p["param_checksum"] for p in parallel],
        "first_loss": single["losses"][0],
        "final_loss": single["losses"][-1],
        "samples_per_s_single": single["samples_per_s"],
        "samples_per_s_parallel": min(p["samples_per_s"] for p in parallel),
        "optimizer_state_bytes_single": single["optimizer_state_bytes"],
        "optimizer_state_bytes_per_rank": [p["optimizer_state_bytes"] for p in parallel],
        "wall_time_s": clock.elapsed,
    }
    if ddp is not None:
        summary |= {
            "max_loss_diff_ddp": _max_diff(parallel[0]["losses"], ddp[0]["losses"]),
            "samples_per_s_ddp": min(p["samples_per_s"] for p in ddp),
        }
        summary["ours_over_ddp"] = summary["samples_per_s_parallel"] / summary["samples_per_s_ddp"]
    return finish(run_dir, summary)


def _run_model_parallel(
    worker: Callable[..., Any],
) -> Callable[[ModelParallelConfig, Path], Result]:
    def run(cfg: ModelParallelConfig, run_dir: Path) -> Result:
        clock = runs.Stopwatch()
        with runs.progress(2, f"1 process, then {cfg.world_size}") as bar:
            ref = mp_train.reference(cfg)
            bar.update(1)
            ranks = _parallel(worker, cfg, "torch")
            bar.update(1)
        curve = next(r["losses"] for r in ranks if any(r["losses"]))
        with runs.MetricLogger(run_dir) as logger:
            for step, (a, b) in enumerate(zip(ref["losses"], curve, strict=True)):
                logger.log(step, **{"losses/single": a, "losses/parallel": b})
        summary = {
            **mp_train.compare(ref, ranks),
            "first_loss": ref["losses"][0],
            "final_loss": ref["losses"][-1],
            "wall_time_s": clock.elapsed,
        }
        if worker is mp_train.pipeline_worker:
            summary["bubble_fraction"] = bubble_fraction(cfg.world_size, cfg.micro_batches)
        return finish(run_dir, summary)

    return run


DP_MNIST = ExperimentSpec(
    name="dp-mnist",
    title="Chapter 3: data-parallel MNIST CNN, 1 vs W processes",
    presets=PRESETS["dp-mnist"],
    run=run_dp,
    criteria=DP_CRITERIA,
    figures=curves,
    sections=dp_sections,
    next_steps=NEXT,
)
DP_TRANSFORMER = dataclasses.replace(
    DP_MNIST,
    name="dp-transformer",
    title="Chapter 3: data-parallel transformer, 1 vs W processes, and DDP",
    presets=PRESETS["dp-transformer"],
)
PIPELINE = ExperimentSpec(
    name="pipeline",
    title="Chapter 3: GPipe pipeline parallelism over the transformer's layers",
    presets=PRESETS["pipeline"],
    run=_run_model_parallel(mp_train.pipeline_worker),
    exercises=(),  # the model-parallel runs are reference code: no exercise of chapter 3
    criteria=MODEL_PARALLEL_CRITERIA,
    figures=curves,
    sections=mp_sections,
    next_steps="Vary micro_batches: the bubble fraction (W-1)/(m+W-1) shrinks as m grows.",
)
TENSOR_PARALLEL = dataclasses.replace(
    PIPELINE,
    name="tensor-parallel",
    title="Chapter 3: Megatron tensor parallelism (heads and MLP split across ranks)",
    presets=PRESETS["tensor-parallel"],
    run=_run_model_parallel(mp_train.tensor_parallel_worker),
    next_steps="Try n_heads=3 and d_model=96 with world_size=2 to see the divisibility error.",
)
