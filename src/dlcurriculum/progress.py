"""Learner progress, derived from the workspace and run folders only.

`dlc check` leaves its results next to the learner's files, with a hash of those files, so
a result whose files have changed since shows as stale rather than wrong.
"""

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dlcurriculum.catalog import Chapter
from dlcurriculum.core.runs import atomic_write_text

if TYPE_CHECKING:  # checks imports torch; `dlc list` should not
    from dlcurriculum.core.checks import CheckResult

RESULTS = ".dlc-checks.json"


def _files_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def record_checks(ch: Chapter, workspace: Path, results: Sequence["CheckResult"]) -> None:
    """Save a chapter's check results in the workspace."""
    folder = workspace / ch.slug
    data = {"files": _files_hash(folder), "results": {r.name: r.passed for r in results}}
    atomic_write_text(folder / RESULTS, json.dumps(data, indent=2) + "\n")


def checks_status(ch: Chapter, workspace: Path) -> str:
    """'2/3 pass', 'stale', 'not started' or '-' (no exercises)."""
    folder = workspace / ch.slug
    path = folder / RESULTS
    if not folder.is_dir():
        return "not started"
    if not path.exists():
        return "not checked"
    data = json.loads(path.read_text())
    if data["files"] != _files_hash(folder):
        return "changed since check"
    results = data["results"]
    return f"{sum(results.values())}/{len(results)} pass"


def runs_status(ch: Chapter, runs_root: Path) -> str:
    """The latest run of each experiment: 'mnist PASS', 'regularization 1 FAIL', ..."""
    parts = []
    for e in ch.experiments:
        finished = sorted((runs_root / e.name).glob("*/criteria.json"))
        if not finished:
            continue
        verdicts = json.loads(finished[-1].read_text())
        failed = sum(not v["passed"] for v in verdicts)
        parts.append(f"{e.name} {'PASS' if not failed else f'{failed} FAIL'}")
    return ", ".join(parts) or "-"
