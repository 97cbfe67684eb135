"""The few collectives parallel training needs, over two engines: torch.distributed and MPI.

Data, pipeline and tensor parallelism in this chapter are written once against `Comm`
(rank, world size, allreduce, broadcast, allgather, send, recv). `TorchComm` runs them on
`torch.distributed` (gloo on CPU, NCCL on GPU), `MPIComm` on mpi4py, and `SingleComm` is the
one-process world the parallel runs are compared with.

Every wait has a deadline: a rank that crashes must not leave the others blocked forever.
gloo and NCCL take the deadline in `init_process_group(timeout=...)`; MPI has no timeout,
so `MPIComm` posts non-blocking operations and polls them against its own clock.
"""

import os
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from dlcurriculum.core.errors import DlcError, install_hint


@runtime_checkable
class Work(Protocol):
    """A collective in flight; `wait` blocks until its result is in the tensor."""

    def wait(self) -> Any: ...


@runtime_checkable
class Comm(Protocol):
    """A group of `world_size` processes; this one is `rank`. Collectives work in place."""

    rank: int
    world_size: int

    def allreduce(self, t: Tensor, async_op: bool = False) -> Work | None:
        """Sum `t` over all ranks, in place (every rank gets the sum)."""
        ...

    def broadcast(self, t: Tensor, src: int = 0) -> None:
        """Overwrite `t` on every rank with rank `src`'s copy."""
        ...

    def allgather(self, t: Tensor) -> list[Tensor]:
        """Every rank's `t` (same shape on all ranks), in rank order."""
        ...

    def send(self, t: Tensor, dst: int) -> None:
        """Send `t` to rank `dst` (blocks until it can be reused)."""
        ...

    def recv(self, t: Tensor, src: int) -> None:
        """Receive into `t` from rank `src`."""
        ...


class _Done:
    def wait(self) -> None:
        return None


class SingleComm:
    """The world of one process: every collective is the identity."""

    rank, world_size = 0, 1

    def allreduce(self, t: Tensor, async_op: bool = False) -> Work | None:
        return _Done() if async_op else None

    def broadcast(self, t: Tensor, src: int = 0) -> None:
        return None

    def allgather(self, t: Tensor) -> list[Tensor]:
        return [t.clone()]

    def send(self, t: Tensor, dst: int) -> None:
        raise DlcError("send needs a second process: launch with world_size >= 2")

    def recv(self, t: Tensor, src: int) -> None:
        raise DlcError("recv needs a second process: launch with world_size >= 2")


class TorchComm:
    """`torch.distributed` behind the Comm interface (the default process group)."""

    def __init__(self) -> None:
        import torch.distributed as dist

        self.dist = dist
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()

    def allreduce(self, t: Tensor, async_op: bool = False) -> Work | None:
        return self.dist.all_reduce(t, async_op=async_op)  # type: ignore[no-any-return]

    def broadcast(self, t: Tensor, src: int = 0) -> None:
        self.dist.broadcast(t, src)

    def allgather(self, t: Tensor) -> list[Tensor]:
        out = [torch.empty_like(t) for _ in range(self.world_size)]
        self.dist.all_gather(out, t.contiguous())
        return out

    def send(self, t: Tensor, dst: int) -> None:
        self.dist.send(t.contiguous(), dst)

    def recv(self, t: Tensor, src: int) -> None:
        self.dist.recv(t, src)


def init_torch(
    rank: int, world_size: int, port: int, backend: str = "gloo", timeout_s: float = 60.0
) -> TorchComm:
    """Join a torch.distributed group on this machine; collectives fail after `timeout_s`.

    Under `torchrun` (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT in the environment, possibly
    across nodes), call `init_torch_from_env` instead.
    """
    import torch.distributed as dist

    dist.init_process_group(
        backend,
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=timeout_s),
    )
    return TorchComm()


def init_torch_from_env(backend: str = "gloo", timeout_s: float = 600.0) -> TorchComm:
    """Join the group `torchrun` describes in the environment (works across nodes)."""
    import torch.distributed as dist

    dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    return TorchComm()


class _MPIWork:
    def __init__(self, comm: "MPIComm", request: Any, staged: Tensor | None, t: Tensor, what: str):
        self.comm, self.request, self.staged, self.t, self.what = comm, request, staged, t, what

    def wait(self) -> None:
        self.comm._wait(self.request, self.what)
        if self.staged is not None:  # a GPU tensor went through a CPU copy
            self.t.copy_(self.staged)


class MPIComm:
    """mpi4py behind the Comm interface, with a deadline on every wait.

    Args:
        timeout_s: how long any one operation may wait for the other ranks before this
            rank gives up with a DlcError (MPI itself would wait forever).
    """

    def __init__(self, timeout_s: float = 60.0) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout_s = timeout_s

    def _wait(self, request: Any, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not request.Test():
            if time.monotonic() > deadline:
                raise DlcError(
                    f"rank {self.rank}: {what} waited {self.timeout_s:.0f} s for the other "
                    "ranks; one of them probably crashed (see its error above)"
                )
            time.sleep(1e-4)

    @staticmethod
    def _host(t: Tensor) -> tuple[Tensor, Tensor | None]:
        """A contiguous CPU tensor MPI can read (a staged copy for GPU tensors)."""
        if t.device.type == "cpu" and t.is_contiguous():
            return t, None
        staged = t.detach().to("cpu").contiguous()
        return staged, staged

    def allreduce(self, t: Tensor, async_op: bool = False) -> Work | None:
        host, staged = self._host(t)
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, host.numpy(), op=self.MPI.SUM)
        work = _MPIWork(self, request, staged, t, "allreduce")
        if async_op:
            return work
        work.wait()
        return None

    def broadcast(self, t: Tensor, src: int = 0) -> None:
        host, staged = self._host(t)
        _MPIWork(self, self.comm.Ibcast(host.numpy(), root=src), staged, t, "broadcast").wait()

    def allgather(self, t: Tensor) -> list[Tensor]:
        host, _ = self._host(t)
        out = torch.empty((self.world_size, *host.shape), dtype=host.dtype)
        self._wait(self.comm.Iallgather(host.numpy(), out.numpy()), "allgather")
        return [x.to(t.device) for x in out]

    def send(self, t: Tensor, dst: int) -> None:
        host, _ = self._host(t)
        self._wait(self.comm.Isend(host.numpy(), dest=dst), f"send to rank {dst}")

    def recv(self, t: Tensor, src: int) -> None:
        host, staged = self._host(t)
        _MPIWork(self, self.comm.Irecv(host.numpy(), source=src), staged, t, "recv").wait()

    def abort(self) -> None:
        """End every rank of the job now (after a failure, so nobody waits for us)."""
        self.comm.Abort(1)


def find_mpiexec() -> Path:
    """The `mpiexec` that belongs to this Python's MPI: the `mpich` package's, next to python.

    mpi4py is built against one MPI library; an `mpiexec` from a different MPI on the PATH
    starts N independent one-process jobs instead of one N-process job. The `mpich` PyPI
    package installs its launcher in the same bin folder as the interpreter, so look there
    first, then on the PATH.

    Raises:
        DlcError: mpi4py or mpiexec is missing, naming the install command.
    """
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise DlcError(
            f"the MPI backend needs mpi4py and an MPI library: {install_hint('mpi')}, "
            "or use backend=torch"
        ) from None
    name = "mpiexec.exe" if os.name == "nt" else "mpiexec"
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is None:
        raise DlcError(
            f"no mpiexec found next to python or on the PATH: {install_hint('mpi')} "
            "(or use backend=torch)"
        )
    return Path(found)
