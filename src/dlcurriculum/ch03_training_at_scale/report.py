"""Chapter 3's reports: the criteria (1 vs W processes agree, the model learns), the
learning-curve figure and the throughput and memory tables."""

import dataclasses
from pathlib import Path

from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    at_most,
    markdown_table,
    pyplot,
    save_figure,
)

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


_DP_CORE = (
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
        *_DP_CORE,
        dataclasses.replace(ddp, when="compare_ddp"),
        Criterion(
            "ZeRO-1: each rank holds ≤ 1/W of Adam's state (+ 8 bytes of padding), "
            "the ranks together all of it",
            _zero_memory,
            when="zero",
        ),
    )


MODEL_PARALLEL_CRITERIA = (
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


def curves(record: RunRecord) -> list[Path]:
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


def dp_sections(record: RunRecord) -> list[tuple[str, str]]:
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


def mp_sections(record: RunRecord) -> list[tuple[str, str]]:
    s = record.summary
    rows = [(k, f"{v:.3g}") for k, v in s.items() if k not in ("wall_time_s",)]
    return [("Comparison with one process", markdown_table(["figure", "value"], rows))]


NEXT = (
    "Break it on purpose to learn the symptoms: comment out broadcast_parameters (the "
    "curves split at step 0), sum instead of average the gradients (they split after the "
    "first update), or set sync_bn=false for the CNN (batch norm sees half batches: a small "
    "but real difference). Try backend=mpi, grad_sync=simple vs buckets, and zero=true."
)


DP_CRITERIA = _dp_all_criteria()
"""dp-mnist's and dp-transformer's criteria."""
