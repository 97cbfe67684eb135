"""`dlc run`, `dlc report` and `dlc eval`: run an experiment, print its verdicts, redo its report.

Registered on the `dlc` app by cli.py.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from dlcurriculum import catalog
from dlcurriculum.console import out
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE

if TYPE_CHECKING:
    from dlcurriculum.core.experiment import ExperimentSpec
    from dlcurriculum.core.report import Judgement

EXIT_NOT_PASSED = 3
"""`dlc run`'s exit status when a criterion FAILs or is N/A (a script can tell)."""


def run(
    experiment: str,
    preset: Annotated[
        str, typer.Option(help="smoke (seconds), quick (minutes on a laptop) or full.")
    ] = "quick",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config field: key=value.")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Root folder for run folders (default ./runs).")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda or auto.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue an interrupted run folder.")] = None,
    impl: Annotated[
        Path | None, typer.Option(help="Run with the learner's code from this workspace.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the resolved config and stop.")
    ] = False,
    plan: Annotated[
        bool, typer.Option("--plan", help="Sweeps: print one command per piece, run nothing.")
    ] = False,
    show_failures: Annotated[
        bool,
        typer.Option(
            "--show-failures",
            help="redteam: also print the failing questions and replies (offensive text).",
        ),
    ] = False,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="Time the start of this run on this device, print the projected wall time, "
            "memory and disk of the whole run, and stop; nothing is kept.",
        ),
    ] = False,
    estimate_seconds: Annotated[
        float, typer.Option(help="--estimate: the longest it runs the experiment.", min=1)
    ] = 45.0,
) -> None:
    """Run an experiment end to end and write its run folder and report.

    Exit status: 0 when every success criterion was measured and passed (a smoke run: once it
    completes, whatever its criteria say), 3 when a criterion FAILs or is N/A, 2 for bad
    input, 130 when interrupted (resume with --resume RUN_DIR).
    """
    from dlcurriculum.core import config as config_mod
    from dlcurriculum.core import experiment as exp
    from dlcurriculum.core.runs import new_run_dir, write_run_files

    entry = catalog.get_experiment(experiment)
    spec = exp.load_spec(entry.module, entry.attr)
    assignments = list(set_ or [])
    if device is not None:
        assignments.append(f"device={device}")
    if show_failures:
        assignments.append("show_failures=true")  # a config field of the experiments that have it
    if impl is not None:
        _require_written(spec, entry.chapter, impl)  # before any run folder exists
        assignments.append(f"impl={impl.resolve()}")
    if resume is not None and estimate:
        raise DlcError("--estimate times a fresh run: drop --resume")
    if resume is not None:
        exp.resumable_config(spec, resume, assignments)  # refuse before saying "Resuming"
        out.print(Text.assemble("Resuming ", (str(resume), "bold")))
        result, judgement = exp.resume(spec, resume, assignments)
    else:
        cfg = spec.config(preset, assignments)
        if dry_run:
            out.print(config_mod.describe(cfg))
            return
        if plan:
            if spec.plan is None:
                raise DlcError(f"{spec.name} is not a sweep: --plan applies to sweeps only")
            run_dir = new_run_dir(spec.name, out_dir)
            write_run_files(run_dir, spec.name, cfg, preset)
            print("\n".join(spec.plan(cfg, run_dir)))
            return
        if estimate:
            from dlcurriculum.core.estimate import estimate as estimate_run

            found = estimate_run(spec, cfg, preset, estimate_seconds)
            sets = [f"--set {a}" for a in assignments]
            command = " ".join(["dlc run", experiment, "--preset", preset, *sets])
            out.print(found.describe(command), soft_wrap=True)
            return
        from dlcurriculum.core.seed import choose_device

        choose_device(cfg.device)  # fail before creating a run folder
        result, judgement = exp.launch(spec, cfg, preset, out_dir)
    print_verdicts(result.run_dir, result.summary, judgement)
    _print_site_page(result.run_dir)
    if judgement.status not in (PASS, SMOKE):
        raise typer.Exit(EXIT_NOT_PASSED)


def _require_written(spec: "ExperimentSpec", chapter: int, impl: Path) -> None:
    """Refuse `--impl` when the run would call a stub or ignore the learner's code."""
    from dlcurriculum.core import experiment as exp
    from dlcurriculum.core.exercises import refuse_chapter_folder, unfinished

    refuse_chapter_folder(catalog.get_chapter(chapter).slug, impl, "--impl")
    if not impl.is_dir():
        raise DlcError(
            f"--impl {impl}: no such folder; create it with `dlc start {chapter} --dir {impl}`"
        )
    if spec.exercises == ():
        others = [
            e.name
            for e in catalog.experiments().values()
            if e.chapter == chapter and exp.load_spec(e.module, e.attr).exercises != ()
        ]
        raise DlcError(
            f"--impl: {spec.name} runs none of the exercises (only reference code), so it "
            f"cannot run yours; --impl applies to {', '.join(others)}"
        )
    todo = unfinished(catalog.get_chapter(chapter).slug, impl, spec.exercises)
    if todo:
        raise DlcError(
            f"--impl {impl}: not written yet: {'; '.join(todo)}. Fill them in and grade them "
            f"with `dlc check {chapter} --dir {impl}`"
        )


def _print_site_page(run_dir: Path) -> None:
    """Where the run's page is on the local site, and how to build it."""
    from dlcurriculum.site.build import run_page

    runs_root = run_dir.parent.parent
    flag = "" if runs_root == Path("runs") else f" --runs {runs_root}"
    out.print(
        f"Site page: {Path('site') / run_page(run_dir)} "
        f"(build or refresh it with `dlc site build{flag}`)"
    )


def print_verdicts(run_dir: Path, summary: dict, judgement: "Judgement") -> None:
    from dlcurriculum.core.report import status_line

    marks = {
        PASS: ("PASS", "green"),
        FAIL: ("FAIL", "red"),
        NOT_MEASURED: ("N/A ", "yellow"),
    }
    for name, v in judgement.verdicts:
        out.print(Text.assemble(marks[v.status], f"  {name}: {v.measured}"))
    for name, flag in judgement.not_run:
        out.print(Text.assemble(("not run", "dim"), f"  {name} (turn it on with {flag})"))
    out.print(status_line(judgement))
    if "wall_time_s" in summary:
        out.print(f"Wall time: {summary['wall_time_s']:.1f} s")
    out.print(f"Report: {run_dir / 'report.md'}")


def report(run_dir: Path) -> None:
    """Rebuild a run's figures and report.md from its folder."""
    from dlcurriculum.core import experiment as exp
    from dlcurriculum.core.report import load_record
    from dlcurriculum.core.runs import read_config

    name = read_config(run_dir).get("experiment", "")
    entry = catalog.get_experiment(name)
    judgement = exp.load_spec(entry.module, entry.attr).report(run_dir)
    print_verdicts(run_dir, load_record(run_dir).summary, judgement)


def eval_(run_dir: Path) -> None:
    """Evaluate a finished run's checkpoint again, deterministically."""
    from dlcurriculum.core import experiment as exp
    from dlcurriculum.core.runs import read_config

    entry = catalog.get_experiment(read_config(run_dir).get("experiment", ""))
    spec = exp.load_spec(entry.module, entry.attr)
    if spec.evaluate is None:
        raise DlcError(f"{spec.name} has no separate evaluation: see {run_dir / 'report.md'}")
    for key, value in spec.evaluate(run_dir).items():
        out.print(f"{key}: {value}")
