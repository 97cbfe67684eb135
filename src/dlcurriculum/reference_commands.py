"""`dlc reference record` and `dlc compare`: the package's reference runs, and yours beside them.

Registered on the `dlc` app by cli.py.
"""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dlcurriculum import catalog
from dlcurriculum.console import out
from dlcurriculum.core.errors import DlcError

reference_app = typer.Typer(
    help="Reference runs kept in the package, which reports and `dlc compare` set yours beside.",
    no_args_is_help=True,
)


@reference_app.command("record")
def reference_record(
    experiment: Annotated[str | None, typer.Argument(help="Run it fresh and record it.")] = None,
    preset: Annotated[str, typer.Option(help="The preset to run.")] = "quick",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config field: key=value.")
    ] = None,
    from_run: Annotated[
        Path | None, typer.Option("--from", help="Record this finished run instead.")
    ] = None,
) -> None:
    """Write the package's record of a reference run (src/dlcurriculum/references/)."""
    import tempfile

    from dlcurriculum import reference
    from dlcurriculum.core import experiment as exp

    if (experiment is None) == (from_run is None):
        raise DlcError("name an EXPERIMENT to run, or pass --from RUN_DIR (not both)")
    if from_run is not None:
        out.print(f"wrote  {reference.record_run(from_run)}")
        return
    assert experiment is not None
    entry = catalog.get_experiment(experiment)
    spec = exp.load_spec(entry.module, entry.attr)
    cfg = spec.config(preset, list(set_ or []))
    with tempfile.TemporaryDirectory(prefix="dlc-reference-") as tmp:
        result, _ = exp.launch(spec, cfg, preset, Path(tmp))
        path = reference.record_run(result.run_dir, commit=reference.current_commit())
        out.print(f"wrote  {path}")


def compare(
    run: Annotated[Path, typer.Argument(help="Your run folder.")],
    against: Annotated[
        Path | None,
        typer.Argument(help="Another run folder (default: the package's reference run)."),
    ] = None,
) -> None:
    """Your run beside the reference run: criteria, final figures and curves, with deltas."""
    from dlcurriculum.compare import criteria_rows, resolve, shared_curves, summary_rows

    mine, ref = resolve(run, against)
    where = against or f"the package's {ref.preset} reference, recorded {ref.recorded}"
    out.print(f"{mine.experiment} ({mine.preset}): {run}  vs  {where}")
    table = Table("criterion", "yours", "reference", title="Success criteria")
    for row in criteria_rows(mine, ref):
        table.add_row(*row)
    out.print(table)
    table = Table("final figure", "yours", "reference", "delta", title="Final figures")
    table.add_row("wall time (s)", f"{mine.wall_time_s:.1f}", f"{ref.wall_time_s:.1f}", "")
    for r in summary_rows(mine, ref):
        table.add_row(r.key, _num(r.mine), _num(r.ref), r.delta)
    out.print(table)
    table = Table("curve", "yours (last)", "reference (last)", title="Curves, last value")
    for key in shared_curves(mine, ref):
        table.add_row(key, _num(mine.curves[key][-1][1]), _num(ref.curves[key][-1][1]))
    out.print(table)
    only = sorted(set(mine.summary) ^ set(ref.summary))
    if only:
        out.print(f"In one side only: {', '.join(only[:20])}" + (" ..." if len(only) > 20 else ""))


def _num(v: float | int | str) -> str:
    return str(v) if isinstance(v, str) else f"{v:.4g}"
