"""Resumable sweeps: independent runs in a pool of processes, one result row per finished run.

A sweep folder holds `sweep.json` (the worker as "module:function" and every cell's
parameters), `rows/NNNNN.json` (one file per finished cell, written atomically by the
process that ran it) and `results.csv` (every row so far, rebuilt under a lock after each
cell). The row files are the truth: a cell with a row file is done, so a restarted sweep
skips it, and processes or machines sharing the folder never write the same file.

Run a whole sweep in a local pool with `run_sweep`, or one cell anywhere with
`python -m dlcurriculum.core.sweep run DIR --cell I`: the commands `plan` prints for a
cluster scheduler (e.g. a job array with `--cell $SLURM_ARRAY_TASK_ID`).
"""

import argparse
import csv
import importlib
import io
import json
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import IN_PROCESS
from dlcurriculum.core.runs import atomic_write_text, progress, write_json

MANIFEST, ROWS, TABLE = "sweep.json", "rows", "results.csv"
Worker = Callable[[dict[str, Any], Path], dict[str, Any]]


@dataclass(frozen=True)
class Manifest:
    """What a sweep folder runs: the worker, every cell, the settings the cells share."""

    worker: str
    cells: list[dict[str, Any]]
    settings: dict[str, Any]


def prepare(
    sweep_dir: Path,
    worker: str,
    cells: Sequence[Mapping[str, Any]],
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Write the sweep's manifest, or check that the folder already holds this same sweep.

    Args:
        sweep_dir: the sweep folder (created if needed).
        worker: "module:function"; `function(params, sweep_dir)` maps a cell's parameters
            (JSON-able, settings included) to its results (a flat JSON-able dict). It must
            be importable by a fresh process and deterministic: a cell may run anywhere.
            Paths in params should be relative to sweep_dir, so the folder can move.
        cells: every cell's parameters, in table order; they identify the sweep.
        settings: what every cell gets that does not change what it measures (e.g. the
            device); unlike the cells, a restart may change them.
    """
    data = {"worker": worker, "cells": [dict(c) for c in cells], "settings": dict(settings or {})}
    manifest = Manifest(**json.loads(json.dumps(data)))  # as it will read back
    path = sweep_dir / MANIFEST
    if path.exists():
        old = load(sweep_dir)
        if (old.worker, old.cells) != (manifest.worker, manifest.cells):
            raise DlcError(f"{sweep_dir} holds a different sweep: start it in a new folder")
        if old.settings == manifest.settings:
            return
    write_json(path, data)


def load(sweep_dir: Path) -> Manifest:
    """The manifest of a prepared sweep folder."""
    path = sweep_dir / MANIFEST
    if not path.is_file():
        raise DlcError(f"{sweep_dir} is not a sweep folder (no {MANIFEST}): prepare it first")
    return Manifest(**json.loads(path.read_text()))


def row_path(sweep_dir: Path, index: int) -> Path:
    """Where cell `index` writes its row."""
    return sweep_dir / ROWS / f"{index:05d}.json"


def pending(sweep_dir: Path) -> list[int]:
    """Indices of the cells that have no row yet."""
    cells = load(sweep_dir).cells
    return [i for i in range(len(cells)) if not row_path(sweep_dir, i).exists()]


def read_rows(sweep_dir: Path) -> list[dict[str, Any]]:
    """Every finished cell's row (its index, parameters and results), in grid order."""
    # temp files of a write in progress start with a dot, so this pattern skips them
    paths = sorted((sweep_dir / ROWS).glob("[0-9]*.json"))
    return [json.loads(p.read_text()) for p in paths]


def _import_worker(name: str) -> Worker:
    module, _, attr = name.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as e:
        raise DlcError(f"sweep worker {name!r} cannot be imported ({e})") from None


def run_cell(sweep_dir: Path, index: int, merge_table: bool = True) -> dict[str, Any]:
    """Run one cell in this process and write its row; a cell already done is not rerun."""
    manifest = load(sweep_dir)
    cells = manifest.cells
    if not 0 <= index < len(cells):
        raise DlcError(f"--cell {index}: {sweep_dir} has cells 0..{len(cells) - 1}")
    path = row_path(sweep_dir, index)
    if path.exists():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    results = _import_worker(manifest.worker)({**manifest.settings, **cells[index]}, sweep_dir)
    row = {"cell": index, **cells[index], **results}
    write_json(path, row)  # atomic: a killed cell leaves no row and simply runs again
    if merge_table:
        merge(sweep_dir)
    return row


def merge(sweep_dir: Path) -> Path:
    """Rebuild results.csv from the row files, under an exclusive lock.

    Every merge reads all row files and the lock orders merges, so the last merge sees
    every row written before it: the table never loses a row to a race.
    """
    import fcntl  # POSIX; on a shared filesystem, flock must be supported there (NFSv4 is)

    with (sweep_dir / ".results.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        rows = read_rows(sweep_dir)
        buf = io.StringIO()
        columns = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(buf, columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(sweep_dir / TABLE, buf.getvalue())
    return sweep_dir / TABLE


def default_workers() -> int:
    """Processes for a local pool: the cores this process may use."""
    affinity = getattr(os, "sched_getaffinity", None)  # absent on macOS
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def _init_process(threads: int) -> None:
    """Pin this worker process to `threads` torch threads.

    N single-threaded processes beat N processes that each start a thread per core and
    fight over the cores. torch reads OMP_NUM_THREADS when it starts, so a worker that
    imports torch later gets the same setting without paying for the import here.
    """
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def run_sweep(
    sweep_dir: Path, workers: int = 0, threads: int = 1, desc: str = "sweep", show: str = ""
) -> list[dict[str, Any]]:
    """Run every pending cell in a pool of `workers` processes (0: one per core) of
    `threads` torch threads each; return every row in grid order.

    The progress bar covers the whole grid and shows result `show` of the latest cell.
    """
    cells = load(sweep_dir).cells
    todo = pending(sweep_dir)
    merge(sweep_dir)  # a sweep killed between a row and its merge leaves the table behind
    bar = progress(len(cells), desc, initial=len(cells) - len(todo))
    manifest = load(sweep_dir)
    if todo and any({**manifest.settings, **c}.get("impl") == IN_PROCESS for c in cells):
        # learn.run's objects live in this process only: its cells run here, one by one
        for index in todo:
            row = run_cell(sweep_dir, index)
            bar.update(1)
            if show in row:
                bar.set_postfix({show: f"{row[show]:.4g}"})
    elif todo:
        # spawn, not fork: forking a parent that has started torch's threads can deadlock
        pool = ProcessPoolExecutor(
            min(workers or default_workers(), len(todo)),
            mp_context=get_context("spawn"),
            initializer=_init_process,
            initargs=(threads,),
        )
        try:
            running = {pool.submit(run_cell, sweep_dir, i, False): i for i in todo}
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = running.pop(future)
                    try:
                        row = future.result()
                    except Exception as e:
                        raise DlcError(
                            f"cell {index} {cells[index]} failed: {type(e).__name__}: {e}. "
                            "Finished cells are kept: fix the cause and rerun to continue."
                        ) from e
                    merge(sweep_dir)
                    bar.update(1)
                    if show in row:
                        bar.set_postfix({show: f"{row[show]:.4g}"})
        finally:
            # after an error or Ctrl-C, queued cells are dropped; running ones end on their own
            pool.shutdown(wait=True, cancel_futures=True)
    bar.close()
    return read_rows(sweep_dir)


def plan(sweep_dir: Path, python: str = "python") -> list[str]:
    """One shell command per pending cell; each runs that cell anywhere and adds its row.

    The folder must be reachable at the same path from every machine (a shared filesystem).
    """
    target = shlex.quote(str(sweep_dir.resolve()))
    return [
        f"{python} -m dlcurriculum.core.sweep run {target} --cell {i}" for i in pending(sweep_dir)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dlcurriculum.core.sweep run|status DIR`: run cells or count them."""
    parser = argparse.ArgumentParser(
        prog="python -m dlcurriculum.core.sweep", description=main.__doc__
    )
    parser.add_argument("action", choices=("run", "status"))
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("--cell", type=int, help="run only this cell, in this process")
    parser.add_argument("--workers", type=int, default=0, help="pool size (0: one per core)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    args = parser.parse_args(argv)
    try:
        if args.action == "status":
            n = len(load(args.sweep_dir).cells)
            print(f"{n - len(pending(args.sweep_dir))}/{n} cells done")
        elif args.cell is not None:
            _init_process(args.threads)
            run_cell(args.sweep_dir, args.cell)
        else:
            run_sweep(args.sweep_dir, args.workers, args.threads)
    except DlcError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
