"""Reading PPO's diagnostics: healthy ranges and the knob to turn.

Each seed of a run logs its diagnostics every update in `seed_<n>/metrics.jsonl`. The
checks here turn those curves into a verdict per diagnostic with the advice a PPO
practitioner would give when it is out of range (after Andy Jones, "Debugging RL", and the
curriculum's own list: clip fraction 1-20%, explained variance above 0, KL without spikes).
"""

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcurriculum.core import runs
from dlcurriculum.core.report import RunRecord

CLIPFRAC_RANGE = (0.01, 0.20)
"""Healthy band for the median clip fraction over training."""
KL_SPIKE_FACTOR, KL_SPIKE_FLOOR = 10.0, 0.05
"""An update's approx KL is a spike above max(FLOOR, FACTOR x the run's median)."""


@dataclass(frozen=True)
class Health:
    """One diagnostic of one seed: the measured figure, whether it is healthy, and what to do."""

    name: str
    healthy: str
    measured: str
    ok: bool
    advice: str


def seed_rows(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """{"seed_<n>": metrics rows} for every seed folder of a run, in seed order."""
    dirs = sorted(run_dir.glob("seed_*"), key=lambda p: int(p.name.split("_")[1]))
    return {d.name: runs.read_metrics(d) for d in dirs}


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [r[key] for r in rows if isinstance(r.get(key), int | float) and math.isfinite(r[key])]


def clipfrac_health(rows: list[dict[str, Any]]) -> Health:
    """The median clip fraction over updates should lie in about 1-20%."""
    median = statistics.median(_values(rows, "policy/clipfrac"))
    low, high = CLIPFRAC_RANGE
    advice = ""
    if median < low:
        advice = (
            "Updates are timid: collect a bigger rollout (num_envs × num_steps), or raise "
            "learning_rate or update_epochs."
        )
    elif median > high:
        advice = (
            "Steps are too big: lower learning_rate (or update_epochs), or use more minibatches."
        )
    return Health(
        "clip fraction",
        f"median in {low:.0%}–{high:.0%}",
        f"median {median:.1%}",
        low <= median <= high,
        advice,
    )


def explained_variance_health(rows: list[dict[str, Any]]) -> Health:
    """Explained variance should rise above 0: judged on the mean over the second half."""
    ev = _values(rows, "value/explained_variance")
    late = ev[len(ev) // 2 :] or ev
    mean = statistics.fmean(late) if late else float("nan")
    ok = mean > 0
    advice = (
        ""
        if ok
        else (
            "The critic is not learning: check the value targets (advantages + values), turn "
            "on norm_reward, or raise vf_coef or learning_rate."
        )
    )
    return Health("explained variance", "> 0 (second half)", f"mean {mean:.2f}", ok, advice)


def approx_kl_health(rows: list[dict[str, Any]]) -> Health:
    """Approximate KL should stay small without spikes (see KL_SPIKE_FACTOR and _FLOOR)."""
    kl = _values(rows, "policy/approx_kl")
    median = statistics.median(kl)
    limit = max(KL_SPIKE_FLOOR, KL_SPIKE_FACTOR * median)
    spikes = sum(k > limit for k in kl)
    advice = (
        ""
        if spikes == 0
        else (
            "The policy jumps in some updates: lower learning_rate, set target_kl (e.g. 0.02) "
            "to stop an update early, or use more minibatches."
        )
    )
    return Health(
        "approx KL",
        f"no update above {limit:.3g}",
        f"median {median:.4f}, max {max(kl):.4f}, {spikes} spike(s)",
        spikes == 0,
        advice,
    )


def entropy_health(rows: list[dict[str, Any]]) -> Health:
    """Entropy should fall gradually: a quarter of the way in it keeps >= 10% of its start."""
    ent = _values(rows, "policy/entropy")
    start, quarter = ent[0], ent[len(ent) // 4]
    ok = quarter >= 0.1 * start
    advice = "" if ok else "The policy became deterministic early: raise ent_coef."
    return Health(
        "entropy",
        "≥ 10% of its start after a quarter of training",
        f"{start:.3f} → {quarter:.3f} → {ent[-1]:.3f}",
        ok,
        advice,
    )


CHECKS = (clipfrac_health, explained_variance_health, approx_kl_health, entropy_health)


def run_health(record: RunRecord) -> dict[str, list[Health]]:
    """Every check on every seed of a run: {"seed_<n>": [Health, ...]}."""
    return {name: [c(rows) for c in CHECKS] for name, rows in seed_rows(record.run_dir).items()}
