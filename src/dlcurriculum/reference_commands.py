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
from dlcurriculum.core.runs import read_json_object

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
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Keep the run under this folder (default: a temporary one)."),
    ] = None,
    from_run: Annotated[
        Path | None, typer.Option("--from", help="Record this finished run instead.")
    ] = None,
    commit: Annotated[
        str, typer.Option(help="--from: the git commit of the code that made the run.")
    ] = "",
) -> None:
    """Write the package's record of a reference run (src/dlcurriculum/references/)."""
    import tempfile

    from dlcurriculum import reference
    from dlcurriculum.core import experiment as exp
    from dlcurriculum.core.seed import choose_device
    from dlcurriculum.run_commands import print_verdicts

    if (experiment is None) == (from_run is None):
        raise DlcError("name an EXPERIMENT to run, or pass --from RUN_DIR (not both)")
    if commit and from_run is None:
        raise DlcError("--commit goes with --from: a fresh run records this checkout's commit")
    with tempfile.TemporaryDirectory(prefix="dlc-reference-") as tmp:
        run_dir = from_run
        if run_dir is None:
            entry = catalog.get_experiment(str(experiment))
            spec = exp.load_spec(entry.module, entry.attr)
            cfg = spec.config(preset, list(set_ or []))
            choose_device(cfg.device)  # as `dlc run` does: fail before any run folder exists
            result, judgement = exp.launch(spec, cfg, preset, out_dir or Path(tmp))
            print_verdicts(result.run_dir, result.summary, judgement)
            run_dir, commit = result.run_dir, reference.current_commit()
        path = reference.record_run(run_dir, reference.REFERENCES, commit)
        judged = read_json_object(run_dir / "criteria.json") or {}
    out.print(f"wrote  {path}  (the run's criteria: {judged.get('status')})", soft_wrap=True)


def compare(
    run: Annotated[Path, typer.Argument(help="Your run folder.")],
    against: Annotated[
        Path | None,
        typer.Argument(help="Another run folder (default: the package's reference run)."),
    ] = None,
) -> None:
    """Your run beside the reference run: criteria, final figures and curves, with deltas."""
    from dlcurriculum.compare import Row, criteria_rows, resolve, shared_curves, summary_rows

    mine, ref = resolve(run, against)
    where = against or f"the package's {ref.preset} reference, recorded {ref.recorded}"
    out.print(f"{mine.experiment} ({mine.preset}): {run}  vs  {where}")
    table = Table("criterion", "yours", "reference", title="Success criteria")
    for row in criteria_rows(mine, ref):
        table.add_row(*row)
    out.print(table)
    table = Table("final figure", "yours", "reference", "delta", title="Final figures")
    for r in summary_rows(mine, ref):
        table.add_row(r.key, _num(r.mine), _num(r.ref), r.delta)
    out.print(table)
    table = Table("curve", "yours", "reference", "delta", title="Curves, last value")
    for key in shared_curves(mine, ref, points=1):
        r = Row(key, mine.curves[key][-1][1], ref.curves[key][-1][1])
        table.add_row(key, _num(r.mine), _num(r.ref), r.delta)
    out.print(table)
    only = sorted({*mine.summary, *mine.curves} ^ {*ref.summary, *ref.curves})
    if only:
        out.print(f"In one side only: {', '.join(only[:20])}" + (" ..." if len(only) > 20 else ""))


def _num(v: float | int | str) -> str:
    return str(v) if isinstance(v, str) else f"{v:.4g}"
