"""The `dlc` command. Thin: it parses, calls library functions and prints.

Every error a user can cause is one `error: ...` line with exit code 2 (see `main`).
`dlc run` exits 0 when every criterion passed (or a smoke run completed), 3 when a criterion
FAILs or could not be measured, and 130 when interrupted.
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from dlcurriculum import catalog, reference_commands, run_commands
from dlcurriculum.ch07_alignment.label_cli import label_app
from dlcurriculum.console import err, out
from dlcurriculum.core.errors import DlcError, Interrupted, user_message
from dlcurriculum.core.report import FAIL, NOT_MEASURED, SMOKE

if TYPE_CHECKING:
    from dlcurriculum.progress import RunInfo

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
UsageError: Any = typer.BadParameter.__bases__[0]  # click's, wherever typer keeps it

Workspace = Annotated[Path, typer.Option("--dir", help="Your workspace folder.")]
RunsRoot = Annotated[Path, typer.Option("--runs", help="Folder holding run folders.")]


@app.command("list")
def list_chapters(dir: Workspace = Path("workspace"), runs: RunsRoot = Path("runs")) -> None:
    """The chapters, their exercises, your check results and the reference runs."""
    from dlcurriculum import progress

    progress.check_folders(dir, runs)
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
    _print_unreadable([r for r in progress.find_runs(runs) if r.unreadable])
    order = " → ".join(map(str, catalog.IMPORTANCE_ORDER))
    out.print(
        f"Order of importance: {order}. Start with 0 if MNIST is new to you. "
        "`dlc show N` opens a chapter."
    )
    out.print(
        "New here? `dlc show intro`: what to know first, how to use the curriculum, "
        "alternatives and advice. `dlc progress` suggests what to do next."
    )


def _print_unreadable(runs: "list[RunInfo]") -> None:
    """One line per run with a file that cannot be read: which file, and why."""
    for r in runs:
        out.print(
            Text.assemble(
                ("unreadable", "red"),
                f" {r.experiment} {r.name}: {r.unreadable} "
                f"(`dlc report {r.run_dir}` says how to repair it)",
            )
        )


@app.command()
def show(
    chapter: Annotated[str, typer.Argument(help="A chapter number or name, 'intro' or 'gpu'.")],
) -> None:
    """Render a chapter's page (summary, readings, exercises, experiments), the intro, or
    the page on running on a GPU."""
    from dlcurriculum.pages import chapter_markdown, gpu_markdown, intro_markdown

    if chapter in ("intro", "gpu"):
        out.print(Markdown(intro_markdown() if chapter == "intro" else gpu_markdown()))
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
    _print_unreadable(state.unreadable)
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


app.command()(run_commands.run)
app.command()(run_commands.report)
app.command("eval")(run_commands.eval_)


@app.command()
def start(chapter: str, dir: Workspace = Path("workspace")) -> None:
    """Copy a chapter's exercise skeleton and written exercises into your workspace (never
    overwrites)."""
    from dlcurriculum.core.exercises import chapter_exercises, written_answers, written_exercises
    from dlcurriculum.core.exercises import start as start_chapter

    ch = catalog.get_chapter(chapter)
    held: dict[str, list[str]] = {}
    for ex in chapter_exercises(ch.slug):
        held.setdefault(f"{ex.module}.py", []).append(ex.name)
    notes = {file: f"exercises: {', '.join(names)}" for file, names in held.items()}
    answered = written_answers(ch.slug)
    for name in written_exercises(ch.slug):
        ours = f"; then compare: `dlc solution {ch.number} {name}`" if name in answered else ""
        notes[f"{name}.md"] = f"written exercise{ours}"
    for path, written in start_chapter(ch.slug, dir):
        what = f"  ({notes[path.name]})" if path.name in notes else ""
        out.print(f"{'wrote' if written else 'kept yours'}  {path}{what}")
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
def notebook(
    chapter: str,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="File or folder (default ./chNN_<name>.ipynb).")
    ] = None,
    solutions: Annotated[
        bool, typer.Option("--solutions", help="Fill in the reference solutions.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing notebook.")] = False,
) -> None:
    """Write the chapter as a Jupyter notebook: the page, each exercise with its check, a run."""
    from dlcurriculum.notebook import write

    path = write(chapter, out_path, solutions, force)
    out.print(f"wrote  {path}")
    out.print(f"Open it with `jupyter lab {path}` (or in VS Code) and run the cells from the top.")


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
    """Print the reference solution of an exercise, or our answers to a written one (try it
    yourself first!)."""
    from dlcurriculum.pages import exercise_solution

    ch = catalog.get_chapter(chapter)
    source, language = exercise_solution(ch, exercise)
    if not yes and not typer.confirm(
        "The curriculum advises trying before peeking. Show the solution?"
    ):
        raise typer.Exit(1)
    if out.is_terminal and language == "markdown":
        out.print(Markdown(source))
    elif out.is_terminal:  # highlighted, and never wrapped, so what is copied is valid Python
        from rich.syntax import Syntax

        out.print(Syntax(source, "python", background_color="default"), soft_wrap=True)
    else:  # piped: the code byte for byte
        sys.stdout.write(source)


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


app.add_typer(reference_commands.reference_app, name="reference")
app.command()(reference_commands.compare)


site_app = typer.Typer(
    help="The local site: front matter, chapters and every run's report as HTML.",
    no_args_is_help=True,
)
app.add_typer(site_app, name="site")
SiteDir = Annotated[Path, typer.Option("--out", help="Folder of the site.")]


@site_app.command("build")
def site_build(runs: RunsRoot = Path("runs"), out_dir: SiteDir = Path("site")) -> None:
    """Write the static site (opens without a server) for every run under --runs."""
    from dlcurriculum.progress import find_runs
    from dlcurriculum.site import build_site

    pages = build_site(runs, out_dir)
    n_runs = sum(p.relative_to(out_dir).parts[0] == "runs" for p in pages)
    out.print(f"Wrote {len(pages)} pages ({n_runs} runs) to {out_dir}.")
    _print_unreadable([r for r in find_runs(runs) if r.unreadable])
    out.print(f"Open {(out_dir / 'index.html').resolve().as_uri()}")


@site_app.command("serve")
def site_serve(
    out_dir: SiteDir = Path("site"),
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8000,
) -> None:
    """Serve the built site at http://127.0.0.1:PORT/ (this machine only)."""
    from dlcurriculum.site import serve

    if not 0 <= port <= 65535:
        raise DlcError(f"--port {port}: choose a port in 0..65535 (0 picks a free one)")
    serve(out_dir, port)


def main() -> None:
    """Entry point. Usage errors are typer's (exit 2); an error the user caused (a DlcError, a
    bad path, a missing extra, an exception in their own exercise code) is one line, exit 2;
    Ctrl-C names the folder to resume, exit 130; anything else is a bug in dlc: its traceback
    follows a line asking for a report, exit 1."""
    try:
        code = app(
            prog_name="dlc", standalone_mode=False
        )  # errors come here, to be printed one way
    except UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # `dlc` or `dlc data` alone: the help
            out.print(e.ctx.get_help() if e.ctx is not None else e.format_message())
            sys.exit(0)
        where = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
        err.print(Text.assemble(("error:", "red"), f" {e.format_message()}{where}"))
        sys.exit(2)
    except typer.Abort:  # end of input at a prompt
        err.print("aborted")
        sys.exit(1)
    except Interrupted as e:
        err.print(str(e))
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as e:
        message = user_message(e)
        if message is None:
            err.print(
                Text.assemble(
                    ("this is a bug in dlc: please report it", "red"),
                    " with the command you ran and the traceback below",
                )
            )
            raise
        err.print(Text.assemble(("error:", "red"), f" {message}"))
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
