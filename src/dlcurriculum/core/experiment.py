"""What an experiment is, and how one is launched, resumed and reported.

Each chapter's `experiments.py` declares `ExperimentSpec`s: presets of its frozen config,
a `run(cfg, run_dir) -> Result` function, the exercise's success criteria, and the
figures and tables of its report. The CLI and the tests both go through `launch`.
"""

import importlib
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlcurriculum.core.config import RunConfig, from_dict, override
from dlcurriculum.core.errors import DlcError, Interrupted, user_message
from dlcurriculum.core.memory import keep_freed_memory
from dlcurriculum.core.report import Criterion, Judgement, RunRecord, load_record, write_report
from dlcurriculum.core.runs import (
    latest_checkpoint,
    new_run_dir,
    read_config,
    write_json,
    write_run_files,
)


@dataclass(frozen=True)
class Result:
    """What `run` returns: where the run lives and its final figures."""

    run_dir: Path
    summary: dict[str, Any]
    checkpoint: Path | None = None


def finish(run_dir: Path, summary: dict[str, Any], checkpoint: Path | None = None) -> Result:
    """Write summary.json (the final figures the criteria read) and return the Result."""
    write_json(run_dir / "summary.json", summary)
    return Result(run_dir, summary, checkpoint)


def _no_figures(record: RunRecord) -> list[Path]:
    return []


def _no_sections(record: RunRecord) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True)
class ExperimentSpec:
    """A runnable experiment: `dlc run <name> --preset P --set k=v`."""

    name: str
    title: str
    presets: Mapping[str, RunConfig]
    run: Callable[[Any, Path], Result]
    criteria: Sequence[Criterion]
    figures: Callable[[RunRecord], list[Path]] = _no_figures
    """Draws the report's figures into run_dir/figures and returns their paths."""
    sections: Callable[[RunRecord], list[tuple[str, str]]] = _no_sections
    """Extra report sections (heading, markdown), e.g. result tables."""
    next_steps: str = ""
    plan: Callable[[Any, Path], list[str]] | None = None
    """For sweeps: the shell commands that would run each piece (`dlc run X --plan`), so a
    cluster scheduler can run them instead."""
    evaluate: Callable[[Path], dict[str, Any]] | None = None
    """Evaluate a finished run's checkpoint again (`dlc eval RUN_DIR`)."""
    exercises: tuple[str, ...] | None = None
    """The chapter's exercises the run calls, which `--impl` takes from the learner's workspace
    (None: all of them; (): none, so `--impl` is refused rather than silently ignored)."""

    @property
    def config_cls(self) -> type[RunConfig]:
        return type(next(iter(self.presets.values())))

    def config(self, preset: str, assignments: Sequence[str] = ()) -> RunConfig:
        """The preset's config with `--set` assignments applied."""
        if preset not in self.presets:
            raise DlcError(
                f"unknown preset {preset!r} for {self.name}: use one of {', '.join(self.presets)}"
            )
        return override(self.presets[preset], list(assignments))

    def report(self, run_dir: Path) -> Judgement:
        """(Re)draw figures and write report.md from the run folder alone."""
        from dlcurriculum.compare import report_section

        record = load_record(run_dir)
        if not record.summary:  # not finished: the verdicts only
            return write_report(record, self.title, self.criteria, [], [], self.next_steps)
        figures = self.figures(record)  # drawn first: the comparison shows them beside ours
        versus = ("Compared with the reference run", report_section(record))
        return write_report(
            record,
            self.title,
            self.criteria,
            figures,
            [versus, *self.sections(record)],
            self.next_steps,
        )


def _last_step(run_dir: Path) -> int | None:
    """The step of the run's newest checkpoint, if it has one."""
    ckpt = latest_checkpoint(run_dir)
    return None if ckpt is None else int(ckpt.stem.removeprefix("step_"))


def load_spec(module: str, attr: str) -> ExperimentSpec:
    """Import the module that declares an experiment and return its spec."""
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def launch(
    spec: ExperimentSpec, cfg: RunConfig, preset: str, out: Path | None = None
) -> tuple[Result, Judgement]:
    """Run an experiment in a fresh run folder and write its report."""
    run_dir = new_run_dir(spec.name, out)
    write_run_files(run_dir, spec.name, cfg, preset)
    keep_freed_memory()
    try:
        result = spec.run(cfg, run_dir)
    except Exception as e:
        # a run stopped by the user's mistake (no data, their exercise code raised) before any
        # checkpoint leaves nothing; a bug in dlc keeps its folder to look at
        if user_message(e) is not None and not any(run_dir.rglob("step_*.pt")):
            shutil.rmtree(run_dir)
        raise
    except KeyboardInterrupt:
        raise Interrupted(spec.name, run_dir, _last_step(run_dir)) from None
    return result, spec.report(run_dir)


def resumable_config(
    spec: ExperimentSpec, run_dir: Path, assignments: Sequence[str] = ()
) -> RunConfig:
    """The config an interrupted run continues with, or a DlcError saying why it cannot.

    Only fields that cannot change the results' meaning (device) may be overridden.
    """
    data = read_config(run_dir)
    if data.get("experiment") != spec.name:
        raise DlcError(
            f"{run_dir} holds a run of {data.get('experiment')!r}, not {spec.name!r}: "
            f"use dlc run {data.get('experiment')} --resume {run_dir}"
        )
    cfg = from_dict(spec.config_cls, data)
    changed = {a.partition("=")[0] for a in assignments} - {"device"}
    if changed:
        raise DlcError(f"--resume keeps the run's config; drop --set {', '.join(sorted(changed))}")
    if (run_dir / "summary.json").exists():
        raise DlcError(f"{run_dir} has already finished: see its report.md or start a new run")
    return override(cfg, list(assignments))


def resume(
    spec: ExperimentSpec, run_dir: Path, assignments: Sequence[str] = ()
) -> tuple[Result, Judgement]:
    """Continue an interrupted run from its last checkpoint, with the config it started with."""
    cfg = resumable_config(spec, run_dir, assignments)
    if assignments:
        write_run_files(run_dir, spec.name, cfg, read_config(run_dir).get("preset", ""))
    keep_freed_memory()
    try:
        result = spec.run(cfg, run_dir)
    except KeyboardInterrupt:
        raise Interrupted(spec.name, run_dir, _last_step(run_dir)) from None
    return result, spec.report(run_dir)
