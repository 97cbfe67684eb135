"""`dlc run X --estimate`: time the start of a run and project the whole run's cost.

The run starts as it would for real (same config, same device) in a throwaway folder. Every
progress bar it opens (`runs.progress`: the training loops, the sweep pool, each stage of
rlhf or redteam) is a stage, and its steps are timed as they come. A stage that ends within
the time budget is measured whole; the first that would not is timed for a while past its
warm-up (its first steps compile, load data and fill caches) and extrapolated to its total,
and the run is stopped there. What would come after that stage is not seen, so it is not
projected. Peak memory is measured; disk is what the folder holds, with the logs scaled to
the whole run and each checkpointing session's checkpoints counted at their kept number.
"""

import multiprocessing
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcurriculum.core import runs
from dlcurriculum.core.config import RunConfig

MIN_TIMED_STEPS = 10
"""A long stage is stopped once this many steps are timed ..."""
MIN_SHARE = 0.5
"""... over at least this share of the budget, and it would not end within the budget."""
LOGS = ("metrics.jsonl", "events.out.tfevents.*")
"""Files that grow with the run; the rest of the folder is counted as the estimate left it."""


class StopEstimate(BaseException):
    """Ends the timed run. A BaseException, so the loops' `except Exception` let it through."""


@dataclass
class Stage:
    """One progress bar: its steps as (seconds since the estimate began, steps done)."""

    desc: str
    total: int
    marks: list[tuple[float, int]]
    """The opening (time, initial), then one mark per update."""
    nested: bool
    """Opened inside another stage, whose time includes it."""
    inner: list["Stage"] = field(default_factory=list)
    """The stages opened inside this one."""
    closed: float | None = None

    @property
    def opened(self) -> float:
        return self.marks[0][0]

    @property
    def done(self) -> int:
        return self.marks[-1][1]

    @property
    def rate(self) -> float | None:
        """Seconds per step past the warm-up: the first step, and the first fifth of the
        steps timed, are left out; with one step timed, that step, warm-up included (so an
        overestimate). None before any step."""
        marks = self.marks if len(self.marks) < 3 else self.marks[1:]
        if len(marks) < 2:
            return None
        (t0, n0), (t1, n1) = marks[(len(marks) - 1) // 5], marks[-1]
        return (t1 - t0) / (n1 - n0) if n1 > n0 else None

    @property
    def first_step(self) -> "Stage | None":
        """Before any step ended: the open stage inside it whose projection ends its first
        step (a sweep's first cell, say)."""
        open_inner = [s for s in self.inner if s.closed is None]
        return open_inner[-1] if len(self.marks) == 1 and open_inner else None

    def projected(self) -> float | None:
        """The stage's whole duration: measured if it ended, else extrapolated (None: no
        rate yet)."""
        if self.closed is not None:
            return self.closed - self.opened
        if self.rate is not None:
            return self.marks[-1][0] - self.opened + self.rate * (self.total - self.done)
        inner = self.first_step
        rest = inner.projected() if inner else None
        if inner is None or rest is None:
            return None
        return (inner.opened - self.opened + rest) * (self.total - self.done)

    def how(self) -> str:
        if self.closed is not None:
            return "measured whole"
        if self.rate is not None and len(self.marks) == 2:
            return "from its first step, warm-up included (high)"
        if self.rate is not None:
            return "extrapolated past the warm-up"
        inner = self.first_step
        if inner is not None and self.projected() is not None:
            return f"every step taken to cost its first ('{inner.desc}', projected)"
        return "no step ended: not projected"


class Meter:
    """Receives every bar and training session of the timed run (through `runs.meter`)."""

    def __init__(self, budget_s: float):
        self.budget_s = budget_s
        self.start = time.perf_counter()
        self.stages: list[Stage] = []
        self.bars: list[Any] = []
        self.sessions: list[Any] = []
        self.stopped = False

    def now(self) -> float:
        return time.perf_counter() - self.start

    def bar(self, bar: Any, total: int, desc: str, initial: int) -> "MeteredBar":
        outer = [s for s in self.stages if s.closed is None]
        stage = Stage(desc, total, [(self.now(), initial)], nested=bool(outer))
        if outer:
            outer[-1].inner.append(stage)
        self.stages.append(stage)
        self.bars.append(bar)
        return MeteredBar(bar, stage, self)

    def session(self, session: Any) -> None:
        self.sessions.append(session)

    def step(self, stage: Stage, n: int) -> None:
        t = self.now()
        stage.marks.append((t, stage.done + n))
        if t >= self.budget_s or self._timed_enough(stage, t):
            self.stop()

    def stop(self) -> None:
        """End the timed run, and the processes it started (a sweep's pool waits for them)."""
        self.stopped = True
        for child in multiprocessing.active_children():
            child.terminate()
        raise StopEstimate

    def _timed_enough(self, stage: Stage, t: float) -> bool:
        """Enough steps timed, and the stage would outlast the budget: waiting adds nothing."""
        rate = stage.rate
        return (
            rate is not None
            and len(stage.marks) > MIN_TIMED_STEPS
            and t - stage.opened >= MIN_SHARE * self.budget_s
            and t + rate * (stage.total - stage.done) > self.budget_s
        )


class MeteredBar:
    """A tqdm bar whose updates and closing are timed; everything else goes to the bar."""

    def __init__(self, bar: Any, stage: Stage, meter: Meter):
        self._bar, self._stage, self._meter = bar, stage, meter

    def update(self, n: int = 1) -> None:
        self._bar.update(n)
        self._meter.step(self._stage, n)

    def close(self) -> None:
        self._bar.close()
        if self._stage.closed is None and not self._meter.stopped:  # ended, not stopped
            self._stage.closed = self._meter.now()

    def __enter__(self) -> "MeteredBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bar, name)


@contextmanager
def _deadline(meter: Meter) -> Iterator[None]:
    """Stop the run at the end of the budget even while no bar moves (POSIX main thread)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() != threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, lambda *_: meter.stop())
    signal.setitimer(signal.ITIMER_REAL, meter.budget_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Estimate:
    """What `estimate` measured and projected."""

    device: str
    ran_s: float
    """How long the run was timed."""
    finished: bool
    """The whole run ended within the budget: every figure is measured, none projected."""
    stages: list[Stage]
    total_s: float | None
    """Projected wall time up to the end of the last stage seen (None: not projectable)."""
    peak_rss: int | None
    peak_gpu: int | None
    disk: dict[str, int] = field(default_factory=dict)
    """Bytes by what holds them: checkpoints, logs, other files, data cache."""

    def describe(self, command: str) -> str:
        """The report `dlc run --estimate` prints."""
        how = "it finished" if self.finished else "then stopped"
        lines = [f"Estimate of `{command}` on {self.device} (timed {_time(self.ran_s)}, {how}):"]
        rows = [("stage", "steps timed", "s/step", "projected", "how")]
        for s in (s for s in self.stages if not s.nested):
            rate = f"{s.rate:.3g}" if s.rate is not None else "-"
            projected = s.projected()
            when = _time(projected) if projected is not None else "?"
            rows.append((s.desc, f"{s.done}/{s.total}", rate, when, s.how()))
        widths = [*(max(len(r[i]) for r in rows) for i in range(4)), 0]
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if self.finished:
            lines.append(f"Wall time: {_time(self.total_s or 0)} (measured: the whole run ran)")
        elif self.total_s is None:
            lines.append("Wall time: not projected (no step of the stage it stopped in ended)")
        else:
            last = next((s.desc for s in reversed(self.stages) if not s.nested), "setup")
            lines.append(
                f"Wall time: {_time(self.total_s)} projected, up to the end of '{last}'; "
                "later stages, if the run has any, are not included"
            )
        memory = f"{_bytes(self.peak_rss)} resident (largest process)" if self.peak_rss else "?"
        if self.peak_gpu is not None:
            memory += f", {_bytes(self.peak_gpu)} of GPU memory allocated"
        lines.append(f"Peak memory: {memory}" + ("" if self.finished else " over the timed part"))
        parts = ", ".join(f"{k} {_bytes(v)}" for k, v in self.disk.items() if v)
        lines.append(f"Disk: {_bytes(sum(self.disk.values()))} ({parts or 'nothing written'})")
        return "\n".join(lines)


def estimate(spec: Any, cfg: RunConfig, preset: str, budget_s: float = 45.0) -> Estimate:
    """Run `spec` with `cfg` for at most `budget_s` seconds in a throwaway folder, and project.

    Errors the run raises (a DlcError: missing data or extra, a bad path) propagate.
    """
    import torch

    from dlcurriculum.core.memory import keep_freed_memory
    from dlcurriculum.core.seed import choose_device

    device = choose_device(cfg.device)
    keep_freed_memory()  # as `launch` does, so that the estimate times what a run does
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    caches = _caches()
    cached = [_size(c) for c in caches]
    meter = Meter(budget_s)
    with tempfile.TemporaryDirectory(prefix="dlc-estimate-") as tmp:
        run_dir = Path(tmp) / spec.name
        run_dir.mkdir()
        runs.write_run_files(run_dir, spec.name, cfg, preset)
        runs.meter = meter
        try:
            with _deadline(meter):
                spec.run(cfg, run_dir)
            finished = True
        except StopEstimate:
            finished = False
        finally:
            runs.meter = None
            for bar in meter.bars:
                bar.close()
        ran_s = meter.now()
        total_s = ran_s if finished else _total(meter.stages, ran_s)
        share = ran_s / total_s if total_s else 1.0
        disk = _disk(run_dir, meter.sessions, finished, share)
    disk["data cache"] = max(0, sum(_size(c) for c in caches) - sum(cached))
    return Estimate(
        device=str(device),
        ran_s=ran_s,
        finished=finished,
        stages=meter.stages,
        total_s=total_s,
        peak_rss=_peak_rss(),
        peak_gpu=torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None,
        disk=disk,
    )


def _total(stages: list[Stage], now: float) -> float | None:
    """Time so far plus what the open stage still needs."""
    left = [0.0]
    for s in (s for s in stages if s.closed is None and not s.nested):
        projected = s.projected()
        if projected is None:
            return None
        left.append(projected - (now - s.opened))
    return now + max(left)


def _disk(run_dir: Path, sessions: list[Any], finished: bool, share: float) -> dict[str, int]:
    """Bytes the run folder would hold at the end: the checkpoints each session keeps (one
    is written now if none was), the logs scaled by the share of the run timed, the rest."""
    if finished:
        return {"run folder": _size(run_dir)}
    sizes: dict[Path, int] = {}
    for session in sessions:
        if session.run_dir is not None:
            ckpt = runs.latest_checkpoint(session.run_dir) or session.checkpoint()
            sizes[session.run_dir] = max(sizes.get(session.run_dir, 0), ckpt.stat().st_size)
    files = [p for p in run_dir.rglob("*") if p.is_file() and "checkpoints" not in p.parts]
    logs = sum(p.stat().st_size for p in files if any(p.match(g) for g in LOGS))
    return {
        "checkpoints": runs.CHECKPOINTS_KEPT * sum(sizes.values()),
        "logs": round(logs / share) if share > 0 else logs,
        "other files": sum(p.stat().st_size for p in files) - logs,
    }


def _caches() -> list[Path]:
    """Where a run downloads to: the data cache and, if installed, the Hugging Face hub's."""
    from dlcurriculum.data import cache_root

    folders = [cache_root()]
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return folders
    return [*folders, Path(HF_HUB_CACHE)]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def _peak_rss() -> int | None:
    """Peak resident memory of this process or of its largest finished child, in bytes."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    who = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    return max(resource.getrusage(w).ru_maxrss for w in who) * scale


def _time(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"
    if seconds < 48 * 3600:
        return f"{seconds // 3600:.0f} h {seconds % 3600 / 60:.0f} min"
    return f"{seconds / 86400:.1f} days"


def _bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for power, unit in ((3, "GB"), (2, "MB"), (1, "kB")):
        if n >= 1000**power:
            return f"{n / 1000**power:.1f} {unit}"
    return f"{n} B"
