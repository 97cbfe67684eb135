"""Golden smoke figures: what every experiment's smoke preset measures, kept in
tests/golden/<experiment>.json, so a refactor that changes a figure is caught.

Smoke runs are deterministic on one thread with a fixed seed; only figures that read the
clock (wall time, throughput) differ between runs, and those are left out. Record again
after a change that is meant to move the figures, and say so in the commit:

    OMP_NUM_THREADS=1 python -m tests.golden record
"""

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dlcurriculum import catalog

GOLDEN = Path(__file__).parent / "golden"
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


def differences(experiment: str, summary: dict[str, Any]) -> list[str]:
    """Where a smoke run's summary differs from the golden one (empty: identical)."""
    golden = json.loads((GOLDEN / f"{experiment}.json").read_text())
    now = comparable(summary)
    keys = sorted(set(golden) | set(now))
    return [
        f"{k}: golden {golden.get(k)!r}, now {now.get(k)!r}"
        for k in keys
        if not _equal(golden.get(k), now.get(k))
    ]


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


def record(names: list[str]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as root:
        for name in ORDER:
            if names and name not in names and not (name == "shakespeare" and "rlhf" in names):
                continue
            figures = comparable(smoke_summary(name, Path(root)))
            text = json.dumps(figures, indent=0, sort_keys=True) + "\n"
            (GOLDEN / f"{name}.json").write_text(text)
            print(f"{name}: {len(figures)} figures")


if __name__ == "__main__":
    if sys.argv[1:2] != ["record"]:
        sys.exit("usage: python -m tests.golden record [EXPERIMENT ...]")
    record(sys.argv[2:])
