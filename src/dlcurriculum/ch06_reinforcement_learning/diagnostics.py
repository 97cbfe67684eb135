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
"""An update's approx KL is a spike above max(FLOOR, FACTOR x the seed's median)."""
KL_SPIKE_SHARE = 0.01
"""Healthy: spikes in at most this share of the updates. Chosen on CartPole quick runs of
seeds 20-39, both update paths: a healthy seed spiked in at most one of its 195 updates
(6 of 40 seeds did, KL at most 0.086), where learning_rate=0.02 spiked in 20-45 of them in
every seed. So a chance spike passes and a real one does not."""
EV_FLOOR = 0.2
"""Healthy: the mean explained variance over the second half of training above this. Chosen
on the same runs: a critic that learns reached 0.23-0.97 in 34 of 40 healthy seeds (the
median seed 0.7-0.9; the end of CartPole's episodes makes it noisy, down to -3.9 in one),
while a dead critic (vf_coef=0) stayed within 0.1 of 0 in every seed."""


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
    """Explained variance should rise above EV_FLOOR: judged on the mean over the second half."""
    ev = _values(rows, "value/explained_variance")
    late = ev[len(ev) // 2 :] or ev
    mean = statistics.fmean(late) if late else float("nan")
    ok = mean > EV_FLOOR
    advice = (
        ""
        if ok
        else (
            "The critic is not learning: check the value targets (advantages + values), turn "
            "on norm_reward, or raise vf_coef or learning_rate."
        )
    )
    return Health(
        "explained variance", f"> {EV_FLOOR:g} (second half)", f"mean {mean:.2f}", ok, advice
    )


def kl_spikes(rows: list[dict[str, Any]]) -> tuple[int, int, float]:
    """(spikes, updates, the spike limit) of one seed's approximate KL."""
    kl = _values(rows, "policy/approx_kl")
    limit = max(KL_SPIKE_FLOOR, KL_SPIKE_FACTOR * statistics.median(kl))
    return sum(k > limit for k in kl), len(kl), limit


def approx_kl_health(rows: list[dict[str, Any]]) -> Health:
    """Approximate KL should stay small: spikes in at most KL_SPIKE_SHARE of the updates."""
    kl = _values(rows, "policy/approx_kl")
    spikes, n, limit = kl_spikes(rows)
    ok = spikes <= KL_SPIKE_SHARE * n
    advice = (
        ""
        if ok
        else (
            "The policy jumps in some updates: lower learning_rate, set target_kl (e.g. 0.02) "
            "to stop an update early, or use more minibatches."
        )
    )
    return Health(
        "approx KL",
        f"at most {KL_SPIKE_SHARE:.0%} of updates above {limit:.3g}",
        f"median {statistics.median(kl):.4f}, max {max(kl):.4f}, {spikes} spike(s) in {n}",
        ok,
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
