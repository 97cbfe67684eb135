"""The `dlc` command. Thin: it parses, calls library functions and prints.

Every error a user can cause is a DlcError, printed as one message with exit code 2.
`dlc run` exits 0 when every criterion passed (or a smoke run completed), 3 when a criterion
FAILs or could not be measured, and 130 when interrupted.
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from dlcurriculum import catalog
from dlcurriculum.ch07_alignment.label_cli import label_app
from dlcurriculum.console import err, out
from dlcurriculum.core.errors import DlcError, Interrupted
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, SMOKE

if TYPE_CHECKING:
    from dlcurriculum.core.report import Judgement

app = typer.Typer(
    help="An alignment-focused deep learning curriculum: read, run, and write the exercises.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(
    help="Datasets: fetch them into the cache, see what is there.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(label_app, name="label")
EXIT_NOT_PASSED = 3
"""`dlc run`'s exit status when a criterion FAILs or is N/A (a script can tell)."""

Workspace = Annotated[Path, typer.Option("--dir", help="Your workspace folder.")]
RunsRoot = Annotated[Path, typer.Option("--runs", help="Folder holding run folders.")]


@app.command("list")
def list_chapters(dir: Workspace = Path("workspace"), runs: RunsRoot = Path("runs")) -> None:
    """The chapters, their exercises, your check results and the reference runs."""
    from dlcurriculum import progress

    table = Table(title="Deep learning curriculum", show_lines=False)
    for col in ("#", "chapter", "exercise", "your checks", "runs"):
        table.add_column(col)
    for ch in catalog.chapters().values():
        practical = next((e.title for e in ch.exercises), "")
        table.add_row(
            str(ch.number),
            ch.title,
            practical,
            progress.checks_status(ch, dir),
            progress.runs_status(ch, runs),
        )
    out.print(table)
    order = " → ".join(map(str, catalog.IMPORTANCE_ORDER))
    out.print(
        f"Order of importance: {order}. Start with 0 if MNIST is new to you. "
        "`dlc show N` opens a chapter."
    )
    out.print(
        "New here? `dlc show intro`: what to know first, how to use the curriculum, "
        "alternatives and advice. `dlc progress` suggests what to do next."
    )


@app.command()
def show(
    chapter: Annotated[str, typer.Argument(help="A chapter number or name, or 'intro'.")],
) -> None:
    """Render a chapter's page (summary, readings, exercises, experiments), or the intro."""
    from dlcurriculum.pages import chapter_markdown, intro_markdown

    if chapter == "intro":
        out.print(Markdown(intro_markdown()))
        return
    out.print(Markdown(chapter_markdown(catalog.get_chapter(chapter))))


@app.command("progress")
def progress_(dir: Workspace = Path("workspace"), runs: RunsRoot = Path("runs")) -> None:
    """Your checks, your runs and the chapter to do next, read from the workspace and runs."""
    from dlcurriculum import progress

    state = progress.learner_progress(dir, runs)
    table = Table(title=f"Progress in {dir} (runs under {runs})")
    for col in ("#", "chapter", "checks", "runs with your code"):
        table.add_column(col)
    for p in state.chapters:
        checks = p.checks if p.tracked else "no learner mode yet"
        your_runs = "\n".join(f"{r.experiment} {r.name}: {r.verdict}" for r in p.your_runs)
        table.add_row(str(p.chapter.number), p.chapter.title, checks, your_runs or "-")
    out.print(table)
    for p in state.chapters:
        for r in p.your_runs:
            if r.status == SMOKE:
                continue  # not judged: its criteria say nothing about the exercise
            for c in r.criteria:
                if c.get("status") in (FAIL, NOT_MEASURED):
                    out.print(
                        Text.assemble(
                            (str(c["status"]), "red"),
                            f" {r.experiment} {r.name}: {c.get('criterion')} ({c.get('measured')})",
                        )
                    )
    if state.next_chapter is None:
        out.print(f"Next: {state.next_step}.")
    else:
        ch = catalog.get_chapter(state.next_chapter)
        out.print(f"Next: chapter {ch.number} ({ch.title}): {state.next_step}.")


@app.command()
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
        if not impl.is_dir():
            raise DlcError(
                f"--impl {impl}: no such folder; "
                f"create it with `dlc start {entry.chapter} --dir {impl}`"
            )
        assignments.append(f"impl={impl.resolve()}")
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
        from dlcurriculum.core.seed import choose_device

        choose_device(cfg.device)  # fail before creating a run folder
        result, judgement = exp.launch(spec, cfg, preset, out_dir)
    _print_verdicts(result.run_dir, result.summary, judgement)
    _print_site_page(result.run_dir)
    if judgement.status not in (PASS, SMOKE):
        raise typer.Exit(EXIT_NOT_PASSED)


def _print_site_page(run_dir: Path) -> None:
    """Where the run's page is on the local site, and how to build it."""
    from dlcurriculum.site.build import run_page

    runs_root = run_dir.parent.parent
    flag = "" if runs_root == Path("runs") else f" --runs {runs_root}"
    out.print(
        f"Site page: {Path('site') / run_page(run_dir)} "
        f"(build or refresh it with `dlc site build{flag}`)"
    )


def _print_verdicts(run_dir: Path, summary: dict, judgement: "Judgement") -> None:
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


@app.command()
def report(run_dir: Path) -> None:
    """Rebuild a run's figures and report.md from its folder."""
    from dlcurriculum.core import experiment as exp
    from dlcurriculum.core.report import load_record
    from dlcurriculum.core.runs import read_config

    name = read_config(run_dir).get("experiment", "")
    entry = catalog.get_experiment(name)
    judgement = exp.load_spec(entry.module, entry.attr).report(run_dir)
    _print_verdicts(run_dir, load_record(run_dir).summary, judgement)


@app.command("eval")
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


@app.command()
def start(chapter: str, dir: Workspace = Path("workspace")) -> None:
    """Copy a chapter's exercise skeleton into your workspace (never overwrites)."""
    from dlcurriculum.core.exercises import start as start_chapter

    ch = catalog.get_chapter(chapter)
    for path, written in start_chapter(ch.slug, dir):
        out.print(f"{'wrote' if written else 'kept yours'}  {path}")
    out.print(f"Fill in the stubs, then run `dlc check {ch.number} --dir {dir}`.")


@app.command()
def check(
    chapter: str,
    exercise: Annotated[str | None, typer.Argument(help="Only this exercise.")] = None,
    dir: Workspace = Path("workspace"),
) -> None:
    """Grade your code in the workspace against the chapter's checks."""
    from dlcurriculum import progress
    from dlcurriculum.core.exercises import check as check_chapter

    ch = catalog.get_chapter(chapter)
    results = check_chapter(ch.slug, dir, exercise)
    for r in results:
        out.print(
            Text.assemble(
                ("PASS", "green") if r.passed else ("FAIL", "red"),
                f"  {r.name}" + ("" if r.passed else f"\n      {r.message}"),
            )
        )
    if exercise is None:
        progress.record_checks(ch, dir, results)
    passed = sum(r.passed for r in results)
    out.print(f"{passed}/{len(results)} checks pass.")
    if passed < len(results):
        raise typer.Exit(1)


@app.command()
def hint(chapter: str, exercise: str) -> None:
    """Show an exercise's docstring and hints."""
    from dlcurriculum.pages import exercise_hint

    out.print(exercise_hint(catalog.get_chapter(chapter), exercise))


@app.command()
def solution(
    chapter: str,
    exercise: str,
    yes: Annotated[bool, typer.Option("--yes", help="Skip the confirmation.")] = False,
) -> None:
    """Print the reference solution of an exercise (try it yourself first!)."""
    from dlcurriculum.pages import exercise_source

    ch = catalog.get_chapter(chapter)
    source = exercise_source(ch, exercise)
    if not yes and not typer.confirm(
        "The curriculum advises trying before peeking. Show the solution?"
    ):
        raise typer.Exit(1)
    out.print(source)


@data_app.command("fetch")
def data_fetch(
    name: str, force: Annotated[bool, typer.Option(help="Fetch again even if cached.")] = False
) -> None:
    """Fetch a dataset (mnist, shakespeare) into the cache."""
    from dlcurriculum import data

    out.print(f"{name}: {data.fetch(name, force=force)}")


@data_app.command("info")
def data_info() -> None:
    """Where each dataset lives, its size, checksum and source."""
    from dlcurriculum import data

    out.print(f"Cache: {data.cache_root()} (set DLC_DATA_DIR to move it)")
    table = Table()
    for col in ("dataset", "status", "source", "size", "files (sha256)"):
        table.add_column(col)
    for d in data.info():
        files = "\n".join(f"{Path(p).name} {d.sha256.get(Path(p).name, '')[:16]}…" for p in d.paths)
        table.add_row(d.name, d.status, d.source or "-", f"{d.total_bytes / 1e6:.1f} MB", files)
    out.print(table)


site_app = typer.Typer(
    help="The local site: front matter, chapters and every run's report as HTML.",
    no_args_is_help=True,
)
app.add_typer(site_app, name="site")
SiteDir = Annotated[Path, typer.Option("--out", help="Folder of the site.")]


@site_app.command("build")
def site_build(runs: RunsRoot = Path("runs"), out_dir: SiteDir = Path("site")) -> None:
    """Write the static site (opens without a server) for every run under --runs."""
    from dlcurriculum.site import build_site

    pages = build_site(runs, out_dir)
    n_runs = sum(p.relative_to(out_dir).parts[0] == "runs" for p in pages)
    out.print(f"Wrote {len(pages)} pages ({n_runs} runs) to {out_dir}.")
    out.print(f"Open {(out_dir / 'index.html').resolve().as_uri()}")


@site_app.command("serve")
def site_serve(
    out_dir: SiteDir = Path("site"),
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8000,
) -> None:
    """Serve the built site at http://127.0.0.1:PORT/ (this machine only)."""
    from dlcurriculum.site import serve

    serve(out_dir, port)


def main() -> None:
    """Entry point. Usage errors are typer's (exit 2); a DlcError is one message, exit 2; a run
    interrupted with Ctrl-C names the folder to resume, exit 130."""
    try:
        app()
    except DlcError as e:
        err.print(Text.assemble(("error:", "red"), f" {e}"))
        sys.exit(2)
    except Interrupted as e:
        err.print(str(e))
        sys.exit(130)
