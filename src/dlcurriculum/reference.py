"""Reference records: one real run of each experiment and preset, small enough to ship.

A record keeps what a learner compares against: the run's verdicts, its final figures
(summary.json's numbers), every metric curve thinned to at most `MAX_POINTS` points, and
the report's first figures, shrunk. `dlc reference record EXPERIMENT` makes one from a fresh
run of the reference solution (`--from RUN` from a finished one); every report then puts
its run's curves over the record's, and `dlc compare RUN` prints the differences.

    references/<experiment>.<preset>.json        the record (tens of KB)
    references/<experiment>.<preset>/<name>.png  up to MAX_FIGURES figures
"""

import json
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.runs import atomic_write_text, read_json_object, read_metrics

Number = int | float
REFERENCES = Path(__file__).parent / "references"
MAX_POINTS = 200
"""Points kept per metric curve: enough to draw it, not to bloat the package."""
MAX_FIGURES = 2
FIGURE_WIDTH = 720
"""Pixels: figures are shrunk to this width and 256 colours..."""
FIGURE_BYTES = 80_000
"""... and narrower still until the file is this small."""


@dataclass(frozen=True)
class Reference:
    """A reference run, as kept in the package."""

    experiment: str
    preset: str
    seed: int
    recorded: str
    """UTC date of the run."""
    commit: str
    wall_time_s: float
    criteria: dict[str, Any]
    """The run's criteria.json: status, criteria (criterion, status, measured), not_run."""
    summary: dict[str, Number | str]
    """summary.json flattened to dotted keys, numbers and short strings only."""
    curves: dict[str, list[list[Number]]]
    """Metric -> [[step, value], ...], at most MAX_POINTS of them."""
    figures: tuple[Path, ...]

    def series(self, key: str) -> tuple[list[Number], list[Number]]:
        """(steps, values) of one metric curve; empty when the record lacks it."""
        points = self.curves.get(key, [])
        return [p[0] for p in points], [p[1] for p in points]


def _json_path(experiment: str, preset: str, root: Path) -> Path:
    return root / f"{experiment}.{preset}.json"


def load(experiment: str, preset: str, root: Path = REFERENCES) -> Reference | None:
    """The record of `experiment` at `preset`, or None when there is none."""
    path = _json_path(experiment, preset, root)
    data = read_json_object(path) if path.is_file() else None
    if data is None:
        return None
    folder = root / f"{experiment}.{preset}"
    figures = tuple(folder / name for name in data.get("figures", []))
    fields = {k: data[k] for k in Reference.__dataclass_fields__ if k != "figures"}
    return Reference(**fields, figures=figures)


def available(root: Path = REFERENCES) -> list[tuple[str, str]]:
    """(experiment, preset) of every record."""
    names = (p.name.removesuffix(".json") for p in sorted(root.glob("*.json")))
    return [tuple(n.rsplit(".", 1)) for n in names if "." in n]  # type: ignore[misc]


def presets_of(experiment: str, root: Path = REFERENCES) -> list[str]:
    return [p for e, p in available(root) if e == experiment]


def _round(x: float) -> float:
    return float(f"{x:.5g}") if math.isfinite(x) else x


def _thin(points: list[list[Number]]) -> list[list[Number]]:
    """At most MAX_POINTS points, evenly spaced, the first and the last always kept."""
    if len(points) <= MAX_POINTS:
        return points
    last = len(points) - 1
    keep = sorted({round(i * last / (MAX_POINTS - 1)) for i in range(MAX_POINTS)})
    return [points[i] for i in keep]


def curves(rows: list[dict[str, Any]]) -> dict[str, list[list[Number]]]:
    """Every numeric metric of a run as thinned [step, value] points."""
    out: dict[str, list[list[Number]]] = {}
    for r in rows:
        step = r.get("step")
        if not isinstance(step, int | float):
            continue
        for k, v in r.items():
            if k != "step" and isinstance(v, int | float) and not isinstance(v, bool):
                out.setdefault(k, []).append([step, _round(float(v))])
    return {k: _thin(v) for k, v in out.items()}


def flat_summary(value: Any, prefix: str = "") -> dict[str, Number | str]:
    """summary.json as dotted keys -> numbers or short strings; lists and long text dropped."""
    if isinstance(value, dict):
        out: dict[str, Number | str] = {}
        for k, v in value.items():
            out.update(flat_summary(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {prefix: _round(float(value))}
    if isinstance(value, str) and len(value) <= 80:
        return {prefix: value}
    return {}


def report_figures(run_dir: Path) -> list[Path]:
    """The figures report.md shows under "## Figures", in order."""
    report = run_dir / "report.md"
    text = report.read_text(encoding="utf-8") if report.is_file() else ""
    section = text.split("\n## Figures\n", 1)[-1].split("\n## ", 1)[0] if text else ""
    found = [run_dir / m for m in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", section)]
    return [p for p in found if p.suffix == ".png" and p.is_file()][:MAX_FIGURES]


def _shrink(src: Path, dest: Path) -> None:
    """A PNG at most FIGURE_WIDTH wide in 256 colours (a plot loses nothing you can see),
    narrower until it fits FIGURE_BYTES (grids of samples are dense)."""
    from PIL import Image

    with Image.open(src) as im:
        rgb = im.convert("RGB")
    width = min(FIGURE_WIDTH, rgb.width)
    while True:
        small = rgb.resize((width, round(rgb.height * width / rgb.width)))
        small.quantize(256).save(dest, optimize=True)
        if dest.stat().st_size <= FIGURE_BYTES or width < 240:
            return
        width = int(width * 0.8)


def current_commit() -> str:
    """The git commit of this checkout ("" outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def record_run(run_dir: Path, root: Path = REFERENCES, commit: str = "") -> Path:
    """Write the record of a finished run of the reference solution; returns its path.

    `commit` is the code that ran, when known (`dlc reference record EXPERIMENT` knows it)."""
    from dlcurriculum.core.report import load_record

    record = load_record(run_dir)
    cfg, summary = record.config, record.summary
    judged_path = run_dir / "criteria.json"
    judged = read_json_object(judged_path) if judged_path.is_file() else None
    if cfg.get("impl"):
        raise DlcError(f"{run_dir} ran your code (--impl): a reference is a run of ours")
    if "wall_time_s" not in summary or judged is None:
        raise DlcError(
            f"{run_dir} has not finished (no wall time or criteria.json): finish it with "
            f"`dlc run {cfg.get('experiment', 'NAME')} --resume {run_dir}`"
        )
    experiment, preset = str(cfg["experiment"]), str(cfg["preset"])
    folder = root / f"{experiment}.{preset}"
    shutil.rmtree(folder, ignore_errors=True)
    # a smoke run's figures show nothing worth shipping; its curves still test the overlay
    figures = report_figures(run_dir) if preset != "smoke" else []
    if figures:
        folder.mkdir(parents=True)
    for p in figures:
        _shrink(p, folder / p.name)
    started = datetime.fromtimestamp((run_dir / "config.json").stat().st_mtime, UTC)
    data = {
        "experiment": experiment,
        "preset": preset,
        "seed": cfg.get("seed", 0),
        "recorded": started.strftime("%Y-%m-%d"),
        "commit": commit,
        "wall_time_s": round(float(summary["wall_time_s"]), 1),
        "criteria": judged,
        "summary": flat_summary(summary),
        "curves": curves(record.metrics),
        "figures": [p.name for p in figures],
    }
    path = _json_path(experiment, preset, root)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, separators=(",", ":")) + "\n")
    return path


def run_curves(run_dir: Path) -> dict[str, list[list[Number]]]:
    """A run's metric curves, thinned like a record's."""
    return curves(read_metrics(run_dir))
