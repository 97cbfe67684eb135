"""`dlc label ...`: label samples in a web page, blind-rate two models, pool labels as JSONL.

Mounted by the main CLI with `app.add_typer(label_app, name="label")`; also runnable on its own
as `python -m dlcurriculum.ch07_alignment.label_cli`.
"""

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from dlcurriculum.ch07_alignment.label_pooling import export_labels, import_labels
from dlcurriculum.ch07_alignment.labels import LABELS, SKIP, LabelStore, mix_corpus
from dlcurriculum.ch07_alignment.ratings import BlindRatings
from dlcurriculum.console import out
from dlcurriculum.core.errors import DlcError, install_hint

label_app = typer.Typer(
    help="Human labels for chapter 7: label samples in a local web page, blind-rate two "
    "models, pool labels from several people.",
    no_args_is_help=True,
)

Db = Annotated[Path, typer.Option("--db", help="The SQLite label store (created if missing).")]
Host = Annotated[
    str, typer.Option(help="Address to listen on; keep 127.0.0.1 unless you trust the network.")
]
Port = Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")]


def _existing_store(db: Path) -> LabelStore:
    """The label store at `db`, which must exist (reading commands never create one)."""
    if not db.is_file():
        raise DlcError(f"no label store at {db}: pass the --db you labeled into")
    return LabelStore(db)


def _labeler_name(given: str | None) -> str:
    """The --labeler given, else the login name."""
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in containers without a passwd entry
        return "labeler"


Labeler = Annotated[
    str | None,
    typer.Option(help="Your name (default: your login): labels, progress, undo are per labeler."),
]


def _run_page(
    db: Path, labeler: str, host: str, port: int, session: int | None, source: str | None = None
) -> None:
    try:
        import uvicorn  # noqa: F401  (checked here so the message can name the extra)

        from dlcurriculum.ch07_alignment import webapp
    except ImportError as e:
        raise DlcError(f"the labeling page needs {e.name}: {install_hint('web')}") from e

    loopback = host in webapp.LOOPBACK_HOSTS
    if not loopback:
        out.print(
            Text.assemble(
                ("warning:", "yellow"),
                f" listening on {host}: anyone who can reach it can label as you.",
            )
        )
    app = webapp.create_app(
        db, labeler, session=session, source=source, allowed_hosts=None if loopback else ["*"]
    )
    sock = webapp.bind(host, port)
    # flush: tests and scripts read the URL from a pipe.
    print(f"Open {webapp.url_of(sock)} (Ctrl-C stops; every confirmed label is saved)", flush=True)
    webapp.serve(app, sock)


@label_app.command()
def serve(
    db: Db,
    labeler: Labeler = None,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    mix_corpus_n: Annotated[
        int, typer.Option("--mix-corpus", help="Mix in N Shakespeare snippets (source 'corpus').")
    ] = 0,
    source: Annotated[str | None, typer.Option(help="Label only samples of this source.")] = None,
    seed: Annotated[int, typer.Option(help="Seed that picks the corpus snippets.")] = 0,
) -> None:
    """Label samples one at a time: keys 1/2/3 = positive/neutral/negative, s skip, u undo."""
    store = LabelStore(db)
    added = mix_corpus(store, mix_corpus_n, seed=seed)
    if added:
        out.print(f"{len(added)} corpus snippets in the queue.")
    if not store.sources():
        raise DlcError(
            f"{db} holds no samples: draw samples into it first (chapter 7's "
            "experiment does), or pass --mix-corpus N to label Shakespeare snippets."
        )
    _run_page(db, _labeler_name(labeler), host, port, None, source)


@label_app.command()
def rate(
    db: Db,
    a: Annotated[str, typer.Option("--a", help="First source, e.g. the original model's.")],
    b: Annotated[str, typer.Option("--b", help="Second source, e.g. a PPO checkpoint's.")],
    n: Annotated[int, typer.Option(help="Samples from each source.")] = 20,
    labeler: Labeler = None,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    seed: Annotated[int, typer.Option(help="Seed that picks and shuffles the samples.")] = 0,
) -> None:
    """Blind rating: n samples of each source, shuffled, sources revealed only at the end."""
    ratings = BlindRatings(_existing_store(db))
    labeler = _labeler_name(labeler)
    session = ratings.session(a, b, labeler, n=n, seed=seed)
    done, total = ratings.progress(session)
    out.print(f"Rating session {session}: {done}/{total} rated.")
    if done < total:
        _run_page(db, labeler, host, port, session)
    done, total = ratings.progress(session)
    if done < total:
        out.print(f"{done}/{total} rated; run the same command again to resume.")
        return
    table = Table(title=f"Blind rating {session} (positive +1, neutral 0, negative -1)")
    table.add_column("source")
    table.add_column("mean rating")
    for src, mean in ratings.reveal(session).items():
        table.add_row(src, f"{mean:+.2f}")
    out.print(table)


@label_app.command("export")
def export(db: Db, path: Annotated[Path, typer.Argument(help="JSONL file to write.")]) -> None:
    """Write every label with its sample to JSONL, to share or pool."""
    out.print(f"{export_labels(_existing_store(db), path)} labels written to {path}.")


@label_app.command("import")
def import_(
    db: Db, paths: Annotated[list[Path], typer.Argument(help="JSONL files from `export`.")]
) -> None:
    """Pool labels exported elsewhere; importing a file twice adds nothing."""
    store = LabelStore(db)
    for path in paths:
        out.print(f"{path}: {import_labels(store, path)} new labels.")


@label_app.command()
def status(db: Db) -> None:
    """Samples per source, and labels per labeler and source."""
    store = _existing_store(db)
    counts = store.label_counts()
    table = Table(title=str(db))
    for col in ("labeler", "source", "samples", "done", *LABELS, SKIP):
        table.add_column(col)
    for labeler in sorted(store.labelers()):
        for src, n_samples in sorted(store.sources().items()):
            done, _ = store.progress(labeler, src)
            row = [str(counts.get((labeler, src, lab), 0)) for lab in (*LABELS, SKIP)]
            table.add_row(labeler, src, str(n_samples), str(done), *row)
    if not store.labelers():
        for src, n_samples in sorted(store.sources().items()):
            table.add_row("-", src, str(n_samples), "0", *["0"] * (len(LABELS) + 1))
    out.print(table)
