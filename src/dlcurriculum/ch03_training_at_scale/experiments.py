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
from dlcurriculum.ch03_training_at_scale.config import DPConfig, ModelParallelConfig
from dlcurriculum.ch03_training_at_scale.dp_train import train_dp
from dlcurriculum.ch03_training_at_scale.launch import launch_mpi, launch_torch
from dlcurriculum.ch03_training_at_scale.pipeline import bubble_fraction
from dlcurriculum.core import runs
from dlcurriculum.core.experiment import ExperimentSpec, Result, finish
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    at_most,
    markdown_table,
    pyplot,
    save_figure,
)
from dlcurriculum.core.seed import choose_device

LOSS_TOL = 1e-4
"""Float32 reassociation (sums in another order) moves losses by ~1e-7 per step; a bug
(overlapping shards, no broadcast, summed gradients) moves them by 1e-2 or more."""
EXACT_STEPS = 5
"""Steps over which 1 and W processes must agree to LOSS_TOL (a missing broadcast shows
at step 0, summed gradients at step 1). Later, some trainings (the CNN with batch norm and
max pooling) amplify float-sized differences chaotically, so every step is judged against
a control: one process with its weights perturbed by 1e-7."""
PERTURB = 1e-7
NOISE_MARGIN = 10.0
FIRST_STEP_TOL = 1e-5
"""Model parallelism's first-step logits and gradients: the same sums in another order
(measured: 2e-8 to 2e-7); a wrong split or a missing all-reduce is off by 1e-2 or more."""

DP_MNIST = {
    "smoke": DPConfig(model="cnn", data="synthetic", steps=5, batch_size=16, width=4),
    "quick": DPConfig(model="cnn", steps=200, batch_size=64, width=16, lr=2e-3),
    "full": DPConfig(model="cnn", steps=2000, batch_size=128, width=32, lr=2e-3),
}
DP_TRANSFORMER = {
    "smoke": DPConfig(
        model="transformer",
        data="synthetic",
        steps=5,
        batch_size=8,
        d_model=32,
        n_ctx=32,
        compare_ddp=True,
        zero=True,
    ),
    "quick": DPConfig(model="transformer", steps=200, batch_size=32, compare_ddp=True),
    "full": DPConfig(
        model="transformer",
        steps=2000,
        batch_size=64,
        d_model=256,
        n_layers=4,
        n_heads=8,
        n_ctx=128,
        compare_ddp=True,
    ),
}
PIPELINE = {
    "smoke": ModelParallelConfig(
        data="synthetic", steps=3, batch_size=4, micro_batches=2, d_model=32, n_ctx=32
    ),
    "quick": ModelParallelConfig(steps=100, batch_size=16, micro_batches=4),
    "full": ModelParallelConfig(
        steps=1000, batch_size=32, micro_batches=8, d_model=256, n_layers=4, n_heads=8, n_ctx=128
    ),
}
TENSOR_PARALLEL = {
    "smoke": dataclasses.replace(PIPELINE["smoke"], micro_batches=1),
    "quick": dataclasses.replace(PIPELINE["quick"], micro_batches=1),
    "full": dataclasses.replace(PIPELINE["full"], micro_batches=1),
}


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


# ---------------------------------------------------------------------------- criteria


def _learns(record: RunRecord) -> Verdict:
    s = record.summary
    drop = 1 - s["final_loss"] / s["first_loss"]
    return Verdict(
        bool(drop >= record.config["min_loss_drop"]),  # a nan loss fails
        f"{drop:.0%} (loss {s['first_loss']:.3f} -> {s['final_loss']:.3f})",
    )


LEARNS = Criterion("the loss falls by ≥ {min_loss_drop:.0%} of its first value", _learns)


def _zero_memory(record: RunRecord) -> Verdict:
    s, w = record.summary, record.config["world_size"]
    full, per_rank = s["optimizer_state_bytes_single"], s["optimizer_state_bytes_per_rank"]
    # each rank: a 1/W shard (rounded up: 8 bytes of padding at most); all ranks: every byte
    ok = all(b <= full / w + 8 for b in per_rank) and sum(per_rank) == full
    return Verdict(
        ok,
        f"{max(per_rank):,} bytes on the largest rank, {sum(per_rank):,} on all {w} "
        f"vs {full:,} unsharded",
    )


def _within_noise(record: RunRecord) -> Verdict:
    s = record.summary
    return Verdict(
        s["steps_outside_noise"] == 0,
        f"{s['steps_outside_noise']} steps outside; max |diff| {s['max_loss_diff']:.2e} vs "
        f"{s['noise_floor']:.2e} for a {PERTURB:g} weight perturbation of one process",
    )


def _gradients(record: RunRecord) -> Verdict:
    s = record.summary
    missing, diff = int(s["gradients_missing"]), s["max_grad_diff"]
    shown = f"{diff:.2e}" + (f" ({missing} parameters' gradients missing)" if missing else "")
    return Verdict(missing == 0 and bool(diff <= FIRST_STEP_TOL), shown)


DP_CRITERIA = (
    at_most(
        f"W-process losses equal 1-process losses over the first {EXACT_STEPS} steps: max |diff|",
        "max_loss_diff_exact_steps",
        LOSS_TOL,
        "{:.2e}",
    ),
    Criterion(
        f"at every step, the largest 1-vs-W gap so far ≤ max({LOSS_TOL:g}, {NOISE_MARGIN:g} × "
        f"that of one process whose weights are perturbed by {PERTURB:g})",
        _within_noise,
    ),
    at_most("every rank reports the same losses: max |diff|", "ranks_agree", 0.0, "{:.3g}"),
    LEARNS,
)


def _dp_all_criteria() -> tuple[Criterion, ...]:
    ddp = at_most(
        "our losses equal DDP's at every step: max |diff|", "max_loss_diff_ddp", LOSS_TOL, "{:.2e}"
    )
    return (
        *DP_CRITERIA,
        dataclasses.replace(ddp, when="compare_ddp"),
        Criterion(
            "ZeRO-1: each rank holds ≤ 1/W of Adam's state (+ 8 bytes of padding), "
            "the ranks together all of it",
            _zero_memory,
            when="zero",
        ),
    )


MP_CRITERIA = (
    at_most(
        "first-step logits equal the 1-process model's: max |diff|",
        "max_logit_diff",
        FIRST_STEP_TOL,
        "{:.2e}",
    ),
    Criterion(
        f"first-step gradients of every parameter equal the 1-process model's: "
        f"max |diff| ≤ {FIRST_STEP_TOL:.2e}",
        _gradients,
    ),
    at_most(
        "losses equal the 1-process run's at every step: max |diff|",
        "max_loss_diff",
        LOSS_TOL,
        "{:.2e}",
    ),
    LEARNS,
)

# ---------------------------------------------------------------------------- report


def _curves(record: RunRecord) -> list[Path]:
    plt = pyplot()
    fig, (ax, diff) = plt.subplots(1, 2, figsize=(11, 4))
    steps, single = record.series("losses/single")
    _, parallel = record.series("losses/parallel")
    w = record.config["world_size"]
    ax.plot(steps, single, lw=3, alpha=0.5, label="1 process")
    ax.plot(steps, parallel, lw=1, ls="--", label=f"{w} processes")
    ddp_steps, ddp = record.series("losses/ddp")
    if ddp:
        ax.plot(ddp_steps, ddp, lw=1, ls=":", label=f"DDP, {w} processes")
    ax.set(xlabel="step", ylabel="training loss", title="learning curves (should overlap)")
    ax.legend()
    diff.semilogy(
        steps,
        [abs(a - b) + 1e-12 for a, b in zip(single, parallel, strict=True)],
        label=f"1 vs {w} processes",
    )
    _, control = record.series("losses/control")
    if control:
        diff.semilogy(
            steps,
            [abs(a - b) + 1e-12 for a, b in zip(single, control, strict=True)],
            alpha=0.6,
            label=f"control: 1 process, weights x (1 + {PERTURB:g} noise)",
        )
    diff.axhline(LOSS_TOL, color="red", ls="--", label=f"tolerance (first {EXACT_STEPS} steps)")
    diff.set(xlabel="step", ylabel="|loss difference|", title="gap to the 1-process run")
    diff.legend()
    return [save_figure(fig, record.run_dir / "figures" / "learning_curves.png")]


def _dp_sections(record: RunRecord) -> list[tuple[str, str]]:
    s, c = record.summary, record.config
    rows = [("1 process", f"{s['samples_per_s_single']:.0f}", "")]
    rows.append(
        (
            f"ours, {c['world_size']} processes ({c['backend']})",
            f"{s['samples_per_s_parallel']:.0f}",
            "",
        )
    )
    if "samples_per_s_ddp" in s:
        rows.append(
            (
                f"DDP, {c['world_size']} processes",
                f"{s['samples_per_s_ddp']:.0f}",
                f"ours / DDP = {s['ours_over_ddp']:.2f}",
            )
        )
    mem = markdown_table(
        ["optimizer", "Adam state bytes per rank"],
        [("torch Adam, 1 process", f"{s['optimizer_state_bytes_single']:,}")]
        + [
            (f"rank {r}" + (" (ZeRO-1)" if c.get("zero") else ""), f"{b:,}")
            for r, b in enumerate(s["optimizer_state_bytes_per_rank"])
        ],
    )
    return [("Throughput", markdown_table(["run", "samples/s", ""], rows)), ("Memory", mem)]


def _mp_sections(record: RunRecord) -> list[tuple[str, str]]:
    s = record.summary
    rows = [(k, f"{v:.3g}") for k, v in s.items() if k not in ("wall_time_s",)]
    return [("Comparison with one process", markdown_table(["figure", "value"], rows))]


NEXT = (
    "Break it on purpose to learn the symptoms: comment out broadcast_parameters (the "
    "curves split at step 0), sum instead of average the gradients (they split after the "
    "first update), or set sync_bn=false for the CNN (batch norm sees half batches: a small "
    "but real difference). Try backend=mpi, grad_sync=simple vs buckets, and zero=true."
)

DP_MNIST_SPEC = ExperimentSpec(
    name="dp-mnist",
    title="Chapter 3: data-parallel MNIST CNN, 1 vs W processes",
    presets=DP_MNIST,
    run=run_dp,
    criteria=_dp_all_criteria(),
    figures=_curves,
    sections=_dp_sections,
    next_steps=NEXT,
)
DP_TRANSFORMER_SPEC = dataclasses.replace(
    DP_MNIST_SPEC,
    name="dp-transformer",
    title="Chapter 3: data-parallel transformer, 1 vs W processes, and DDP",
    presets=DP_TRANSFORMER,
)
PIPELINE_SPEC = ExperimentSpec(
    name="pipeline",
    title="Chapter 3: GPipe pipeline parallelism over the transformer's layers",
    presets=PIPELINE,
    run=_run_model_parallel(mp_train.pipeline_worker),
    exercises=(),  # the model-parallel runs are reference code: no exercise of chapter 3
    criteria=MP_CRITERIA,
    figures=_curves,
    sections=_mp_sections,
    next_steps="Vary micro_batches: the bubble fraction (W-1)/(m+W-1) shrinks as m grows.",
)
TENSOR_PARALLEL_SPEC = dataclasses.replace(
    PIPELINE_SPEC,
    name="tensor-parallel",
    title="Chapter 3: Megatron tensor parallelism (heads and MLP split across ranks)",
    presets=TENSOR_PARALLEL,
    run=_run_model_parallel(mp_train.tensor_parallel_worker),
    next_steps="Try n_heads=3 and d_model=96 with world_size=2 to see the divisibility error.",
)
