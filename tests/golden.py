"""Golden smoke figures: what every experiment's smoke preset measures, kept in
tests/golden/<cpu>/<experiment>.json, so a refactor that changes a figure is caught.

Smoke runs are deterministic on one thread with a fixed seed; only figures that read the
clock (wall time, throughput) differ between runs, and those are left out. They are exact
on one CPU, not across CPUs: the math libraries take other kernels on another vendor or
generation, the sums round differently, and training amplifies that (at one commit, the
shakespeare smoke's validation loss is 4.043245426 on an AMD EPYC and 4.043230023 on an
Intel Xeon; the quick run's, 3.313 and 3.386). So each CPU keeps its
own figures, compared to the tenth digit; on a CPU with none recorded, a run is compared
with the figures every recorded CPU agrees on (counts, sizes, analytic results), floats
within rounding. Record again after a change that is meant to move the figures, and say so
in the commit:

    OMP_NUM_THREADS=1 python -m tests.golden record
"""

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dlcurriculum import catalog

GOLDEN = Path(__file__).parent / "golden"
RECORD = "OMP_NUM_THREADS=1 python -m tests.golden record"
RECORDED = "_recorded"
"""The key holding when and at which commit a golden file was recorded (not a figure)."""
CLOCK_WORDS = ("time", "wall", "second", "per_s", "throughput", "elapsed", "speed", "eta")
CLOCK_KEYS = {"sps", "ours_over_ddp"}  # steps per second; a speed ratio
# rlhf starts from the latest chapter-1 run, so shakespeare runs first
ORDER = sorted(catalog.experiments(), key=lambda e: (e == "rlhf", e))


def _reads_the_clock(key: str) -> bool:
    return key in CLOCK_KEYS or any(w in key for w in CLOCK_WORDS) or key.endswith("_s")


def comparable(value: Any, prefix: str = "") -> dict[str, Any]:
    """The summary's leaves by dotted path, without clock readings; floats to 10 digits."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not _reads_the_clock(str(k)):
                out |= comparable(v, f"{prefix}{k}.")
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out |= comparable(v, f"{prefix}{i}.")
        return out
    if isinstance(value, float) and math.isfinite(value):
        value = float(f"{value:.10g}")
    return {prefix.rstrip("."): value}


def cpu() -> str:
    """This CPU's vendor, family and model (e.g. GenuineIntel-6-207): the golden figures'
    folder."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:  # not Linux
        pass
    parts = [info.get("vendor_id") or platform.processor() or platform.machine()]
    parts += [info[k] for k in ("cpu family", "model") if k in info]
    return "-".join(parts).replace(" ", "_")


def differences(experiment: str, summary: dict[str, Any]) -> list[str]:
    """Where a smoke run's summary differs from the golden one (empty: identical).

    On a CPU with its own golden figures every figure must be equal; on another CPU, the
    figures all recorded CPUs agree on must be equal (floats within rounding), and the
    others are not compared.
    """
    now = comparable(summary)
    sets = {p.parent.name: json.loads(p.read_text()) for p in GOLDEN.glob(f"*/{experiment}.json")}
    stamps = {name: figures.pop(RECORDED, "") for name, figures in sets.items()}
    if not sets:
        return [f"no golden figures for {experiment}: record them ({RECORD} {experiment})"]
    own = sets.get(cpu())
    if own is not None:
        golden = own
    else:
        first, *others = sets.values()
        golden = {k: v for k, v in first.items() if all(_equal(o.get(k), v) for o in others)}
        now = {k: v for k, v in now.items() if k in golden}
    same = _equal if own is not None else _close
    keys = sorted(set(golden) | set(now))
    diffs = [
        f"{k}: golden {golden.get(k)!r}, now {now.get(k)!r}"
        for k in keys
        if not same(golden.get(k), now.get(k))
    ]
    newer = [name for name, stamp in stamps.items() if own is not None and stamp > stamps[cpu()]]
    if diffs and newer:
        diffs.append(
            f"({', '.join(sorted(newer))} recorded {experiment} after this CPU did: if that "
            f"change moved these figures on purpose, record them here too: {RECORD} {experiment})"
        )
    return diffs


def _close(a: Any, b: Any) -> bool:
    """Equal, or floats within rounding (relative 1e-4, absolute 1e-6): two CPUs agreeing on
    a float does not make a third round it to the same last digit."""
    if isinstance(a, float) and isinstance(b, float) and math.isfinite(a) and math.isfinite(b):
        return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)
    return _equal(a, b)


def _equal(a: Any, b: Any) -> bool:
    """Equal, where nan equals nan (a figure that is nan both times has not moved)."""
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return both_nan or a == b


def smoke_summary(experiment: str, cwd: Path) -> dict[str, Any]:
    """Run the smoke preset as a user would and return its summary.json (rlhf starts from
    the latest shakespeare run in `cwd`)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    extra = []
    if experiment == "rlhf":
        extra = ["--set", f"policy_run={sorted((cwd / 'runs' / 'shakespeare').iterdir())[-1]}"]
    done = subprocess.run(
        [sys.executable, "-m", "dlcurriculum", "run", experiment, "--preset", "smoke", *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{experiment}: exit {done.returncode}\n{done.stderr[-2000:]}")
    run_dir = sorted((cwd / "runs" / experiment).iterdir())[-1]
    return json.loads((run_dir / "summary.json").read_text())


def stamp() -> str:
    """Now and the checked-out commit, e.g. '2026-12-05T20:41 3dd3f75' (sorts by time)."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=GOLDEN
    ).stdout.strip()
    return f"{datetime.now(UTC):%Y-%m-%dT%H:%M} {head}".strip()


def record(names: list[str]) -> None:
    folder = GOLDEN / cpu()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as root:
        for name in ORDER:
            if names and name not in names and not (name == "shakespeare" and "rlhf" in names):
                continue
            figures = comparable(smoke_summary(name, Path(root))) | {RECORDED: stamp()}
            text = json.dumps(figures, indent=0, sort_keys=True) + "\n"
            (folder / f"{name}.json").write_text(text)
            print(f"{name}: {len(figures)} figures, in {folder}")


if __name__ == "__main__":
    if sys.argv[1:2] != ["record"]:
        sys.exit("usage: python -m tests.golden record [EXPERIMENT ...]")
    record(sys.argv[2:])
