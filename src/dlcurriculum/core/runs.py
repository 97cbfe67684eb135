"""Run folders: config, metrics (JSONL + TensorBoard), atomic checkpoints, resume.

A run folder `runs/<experiment>/<timestamp>/` holds `config.json`, `argv.txt`,
`metrics.jsonl`, TensorBoard events, `checkpoints/`, `figures/`, `summary.json` and
`report.md`. Every file is written whole or not at all (temp file, then rename), so a
killed run never leaves a half-written file behind; `metrics.jsonl` is append-only and a
torn last line is ignored when read.
"""

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from dlcurriculum.core.config import RunConfig, to_dict
from dlcurriculum.core.errors import DlcError

CHECKPOINTS_KEPT = 2


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temp file next to `path`; on success fsync and rename it onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` all at once."""
    with atomic_open(path) as f:
        f.write(text)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (indented, so people can read it)."""
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def new_run_dir(experiment: str, out: Path | None = None) -> Path:
    """A fresh `out/<experiment>/<timestamp>` folder (out defaults to ./runs)."""
    root = (out or Path("runs")) / experiment
    for folder in (root.parent, root):
        if folder.exists() and not folder.is_dir():
            flag = "" if out is None else f"--out {out}: "
            raise DlcError(
                f"{flag}{folder} is a file, not a folder for run folders: choose another --out"
            )
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for i in range(100):
        run_dir = root / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
    raise DlcError(f"could not create a run folder under {root}: clean it up or pass --out")


def write_run_files(run_dir: Path, experiment: str, cfg: RunConfig, preset: str) -> None:
    """Record what is being run: the resolved config and the command line."""
    config = {"experiment": experiment, "preset": preset, **to_dict(cfg)}
    write_json(run_dir / "config.json", config)
    atomic_write_text(run_dir / "argv.txt", " ".join(sys.argv) + "\n")


def read_config(run_dir: Path) -> dict[str, Any]:
    """The config.json of a run folder, or a DlcError saying it is not one."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise DlcError(f"{run_dir} is not a run folder (no config.json): pass one dlc run made")
    config = read_json_object(path)
    if config is None:
        raise DlcError(
            f"{path} cannot be read (torn or not a JSON object): this run's config is lost; "
            "start a new run"
        )
    return config


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON file holding an object, or None when it is torn, unreadable or something else."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON-object line of a JSONL file, skipping a line torn by a crash or that is not
    a JSON object (read as bytes, so one bad byte costs only its line); [] when missing."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_bytes().splitlines():
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every logged row of the run's metrics.jsonl."""
    return read_jsonl(run_dir / "metrics.jsonl")


class MetricLogger:
    """The one sink for metrics: one JSON object per `log` call, plus TensorBoard scalars.

    On resume from a checkpoint at step s, rows after s are dropped first, so the resumed
    run's metrics.jsonl matches an uninterrupted one.
    """

    def __init__(self, run_dir: Path, resume_step: int | None = None):
        self.path = run_dir / "metrics.jsonl"
        if resume_step is not None:
            kept = [r for r in read_metrics(run_dir) if r["step"] <= resume_step]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        else:
            self.path.write_text("")
        self._file = self.path.open("a")
        self._tb = _tensorboard_writer(run_dir, None if resume_step is None else resume_step + 1)

    def log(self, step: int, **metrics: Any) -> None:
        """Append one row; `step` is the x-axis (optimizer steps, examples or env steps)."""
        row = {"step": step, **{k: _plain(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(row) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key, value in row.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and key != "step":
                    self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        """Flush and close both sinks."""
        self._file.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self) -> "MetricLogger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars to Python numbers, so json can write them."""
    return value.item() if hasattr(value, "item") else value


def _tensorboard_writer(run_dir: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is a core dependency, but a trimmed install may lack it
        return None
    return SummaryWriter(log_dir=str(run_dir), purge_step=purge_step)


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any]) -> Path:
    """Write `checkpoints/step_XXXXXXXX.pt` atomically; keep only the newest few."""
    import torch

    ckpt_dir = run_dir / "checkpoints"
    path = ckpt_dir / f"step_{step:08d}.pt"
    with atomic_open(path, "wb") as f:
        torch.save({"step": step, **state}, f)
    for old in sorted(ckpt_dir.glob("step_*.pt"))[:-CHECKPOINTS_KEPT]:
        old.unlink()
    return path


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint of a run, if any."""
    found = sorted((run_dir / "checkpoints").glob("step_*.pt"))
    return found[-1] if found else None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint` (on CPU; move tensors as needed)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a checkpoint can only be corrupt by outside damage: say so
        raise DlcError(
            f"checkpoint {path} cannot be read ({e}); delete it to resume from the one before"
        ) from None


meter: Any = None
"""While `dlc run --estimate` times a run, its Meter (core/estimate.py): every progress bar
and training session is shown to it. None otherwise."""


def progress(total: int, desc: str, initial: int = 0) -> Any:
    """A progress bar on stderr (hidden when stderr is not a terminal)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, disable=None)
    return meter.bar(bar, total, desc, initial) if meter else bar


class Stopwatch:
    """Wall time that survives resume: pass the elapsed seconds stored in a checkpoint."""

    def __init__(self, already: float = 0.0):
        self._start = time.perf_counter() - already

    @property
    def elapsed(self) -> float:
        """Seconds since the run first started, excluding time between crash and resume."""
        return time.perf_counter() - self._start
