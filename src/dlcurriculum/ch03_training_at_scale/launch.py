"""Start N processes that run `fn(comm, *args)` and collect what each returns.

`launch_torch` starts them with multiprocessing and joins a torch.distributed group (much
faster than `torchrun`, which needs ~9 s to start; use torchrun on a real cluster);
`launch_mpi` runs them under the `mpiexec` of the `mpich` package. Either way a failing
rank becomes one DlcError that names the rank and its error, never a hang: the others
hit their collective's deadline and stop too.

`python -m dlcurriculum.ch03_training_at_scale.launch JOB_DIR` is the MPI worker entry.
"""

import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp

from dlcurriculum.ch03_training_at_scale.comm import (
    Comm,
    MPIComm,
    find_mpiexec,
    init_torch,
)
from dlcurriculum.core.errors import DlcError

WorkerFn = Callable[..., Any]


def free_port() -> int:
    """A TCP port nobody listens on right now (for the rendezvous of a local group)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _finish(job: Path, rank: int, fn: WorkerFn, comm: Comm, args: tuple[Any, ...]) -> bool:
    """Run fn and write its result (or the error) for the parent; True on success."""
    try:
        result = fn(comm, *args)
        torch.save(result, job / f"result_{rank}.pt")
        return True
    except BaseException as e:  # report everything, KeyboardInterrupt included
        msg = str(e) if isinstance(e, DlcError) else traceback.format_exc()
        (job / f"error_{rank}.txt").write_text(msg)
        return False


def _torch_worker(
    rank: int,
    fn: WorkerFn,
    world_size: int,
    port: int,
    backend: str,
    timeout_s: float,
    threads: int,
    job: str,
    args: tuple[Any, ...],
) -> None:
    import torch.distributed as dist

    torch.set_num_threads(threads)
    if backend == "nccl":
        torch.cuda.set_device(rank % torch.cuda.device_count())
    ok = False
    try:
        comm = init_torch(rank, world_size, port, backend, timeout_s)
        ok = _finish(Path(job), rank, fn, comm, args)
    except BaseException:
        (Path(job) / f"error_{rank}.txt").write_text(traceback.format_exc())
    finally:
        if ok and dist.is_initialized():
            dist.destroy_process_group()
    # skip interpreter teardown: a peer that died can make gloo's destructors block
    os._exit(0 if ok else 1)


def _gather(job: Path, world_size: int, exit_codes: list[int | None]) -> list[Any]:
    """Each rank's result, or one DlcError describing every rank that failed."""
    errors = []
    for rank in range(world_size):
        err = job / f"error_{rank}.txt"
        if err.exists():
            last = (err.read_text().strip().splitlines()[-1:] or ["(no message)"])[0]
            prefix = "" if last.startswith(f"rank {rank}:") else f"rank {rank}: "
            errors.append((err.stat().st_mtime, prefix + last))
        elif not (job / f"result_{rank}.pt").exists():
            errors.append((0.0, f"rank {rank} died without a word (exit code {exit_codes[rank]})"))
    if errors:
        lines = "; ".join(msg for _, msg in sorted(errors))
        raise DlcError(f"the parallel job failed ({lines})")
    return [torch.load(job / f"result_{r}.pt", weights_only=False) for r in range(world_size)]


def launch_torch(
    fn: WorkerFn,
    world_size: int,
    *args: Any,
    backend: str = "gloo",
    timeout_s: float = 60.0,
    threads: int = 1,
    start_method: str = "",
) -> list[Any]:
    """Run `fn(comm, *args)` on `world_size` local processes joined by torch.distributed.

    Args:
        fn: a module-level function (spawned processes import it by name).
        world_size: number of processes.
        backend: "gloo" (CPU) or "nccl" (one GPU per rank).
        timeout_s: deadline of every collective; a crashed peer ends the job within it.
        threads: torch threads per process (the processes share the machine's cores).
        start_method: "fork" or "spawn"; "" picks fork on Linux (children start in a
            fraction of a second; safe because they run `threads`=1 and so never enter an
            OpenMP region the parent used), else spawn (CUDA does not survive a fork).

    Returns:
        What `fn` returned on each rank, in rank order.

    Raises:
        DlcError: a rank failed; the message names it and its error.
    """
    if not start_method:
        fork_ok = sys.platform == "linux" and threads == 1 and not torch.cuda.is_initialized()
        start_method = "fork" if fork_ok else "spawn"
    ctx = mp.get_context(start_method)
    with tempfile.TemporaryDirectory(prefix="dlc-launch-") as job:
        port = free_port()
        common = (fn, world_size, port, backend, timeout_s, threads, job, args)
        procs = [
            ctx.Process(target=_torch_worker, args=(r, *common))  # type: ignore[attr-defined]
            for r in range(world_size)
        ]
        for p in procs:
            p.start()
        _join(procs, grace_s=timeout_s + 10)
        return _gather(Path(job), world_size, [p.exitcode for p in procs])


def _join(procs: list[Any], grace_s: float) -> None:
    """Wait for every process; once one has failed, give the rest `grace_s` to notice."""
    failed_at: float | None = None
    while any(p.is_alive() for p in procs):
        if failed_at is None and any(p.exitcode not in (None, 0) for p in procs):
            failed_at = time.monotonic()
        if failed_at is not None and time.monotonic() - failed_at > grace_s:
            for p in procs:
                if p.is_alive():
                    p.terminate()
        time.sleep(0.02)
    for p in procs:
        p.join()


def launch_mpi(
    fn: WorkerFn, world_size: int, *args: Any, timeout_s: float = 60.0, threads: int = 1
) -> list[Any]:
    """Run `fn(comm, *args)` on `world_size` processes started by `mpiexec -n world_size`.

    Same contract as `launch_torch`, with an `MPIComm` (mpi4py) as the communicator.

    Raises:
        DlcError: mpi4py/mpiexec are missing (naming the install), or a rank failed.
    """
    mpiexec = find_mpiexec()
    with tempfile.TemporaryDirectory(prefix="dlc-mpi-") as job:
        with open(Path(job) / "job.pkl", "wb") as f:
            pickle.dump((fn, args, timeout_s, threads), f)
        cmd = [str(mpiexec), "-n", str(world_size), sys.executable, "-m", __name__, job]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        try:
            return _gather(Path(job), world_size, [proc.returncode] * world_size)
        except DlcError as e:
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise DlcError(f"{e}{'; mpiexec said: ' + tail if tail else ''}") from None


def _mpi_main(job: Path) -> None:
    with open(job / "job.pkl", "rb") as f:
        fn, args, timeout_s, threads = pickle.load(f)
    torch.set_num_threads(threads)
    comm = MPIComm(timeout_s)
    if not _finish(job, comm.rank, fn, comm, args):
        time.sleep(0.2)  # let the error file reach the disk before the job is torn down
        comm.abort()  # MPI would otherwise keep the healthy ranks waiting


if __name__ == "__main__":
    _mpi_main(Path(sys.argv[1]))
