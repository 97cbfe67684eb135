"""MPI warm-up: point-to-point, broadcast, allreduce, scatter/gather with mpi4py.

Run every demo on two processes (any N >= 2 works):

    mpiexec -n 2 python -m dlcurriculum.ch03_training_at_scale.mpi_warmup
    mpiexec -n 2 python -m dlcurriculum.ch03_training_at_scale.mpi_warmup allreduce

`comm.find_mpiexec()` finds the right launcher: the `mpiexec` of the `mpich`
PyPI package sits next to the python executable. Every demo checks its own result, so a
broken MPI set-up fails loudly instead of printing plausible numbers.

mpi4py has two flavours of each call: lowercase (`send`, `bcast`) pickles any Python
object; capitalized (`Send`, `Bcast`) moves a buffer such as a numpy array without
copying, which is what training uses for tensors.
"""

import sys
from typing import Any

import numpy as np


def point_to_point(comm: Any) -> str:
    """Rank 0 sends an array to rank 1, which sends back its double (blocking Send/Recv)."""
    rank = comm.Get_rank()
    data = np.arange(4, dtype=np.float64)
    if rank == 0:
        comm.Send(data, dest=1, tag=7)
        reply = np.empty(4)
        comm.Recv(reply, source=1, tag=8)
        assert np.array_equal(reply, 2 * data), reply
        return f"rank 0 sent {data.tolist()} and got back {reply.tolist()}"
    if rank == 1:
        got = np.empty(4)
        comm.Recv(got, source=0, tag=7)
        comm.Send(2 * got, dest=0, tag=8)
        return f"rank 1 received {got.tolist()} and replied with its double"
    return f"rank {rank} sits this one out"


def broadcast(comm: Any) -> str:
    """Rank 0's weights reach every rank (how data parallelism starts identical replicas)."""
    rank = comm.Get_rank()
    weights = np.random.default_rng(0).normal(size=3) if rank == 0 else np.zeros(3)
    comm.Bcast(weights, root=0)
    expected = np.random.default_rng(0).normal(size=3)
    assert np.array_equal(weights, expected)
    return f"rank {rank} now holds rank 0's weights {np.round(weights, 3).tolist()}"


def allreduce(comm: Any) -> str:
    """Every rank contributes its 'gradient'; every rank gets the mean (data parallelism)."""
    rank, size = comm.Get_rank(), comm.Get_size()
    grad = np.full(3, float(rank + 1))
    total = np.empty(3)
    from mpi4py import MPI

    comm.Allreduce(grad, total, op=MPI.SUM)
    mean = total / size
    assert np.allclose(mean, (size + 1) / 2)
    return f"rank {rank}: local gradient {grad[0]:.0f}, mean over {size} ranks {mean[0]:.2f}"


def scatter_gather(comm: Any) -> str:
    """Rank 0 deals out one shard of a dataset per rank, each squares its shard, rank 0 collects."""
    rank, size = comm.Get_rank(), comm.Get_size()
    dataset = np.arange(size * 2, dtype=np.float64).reshape(size, 2) if rank == 0 else None
    shard = np.empty(2)
    comm.Scatter(dataset, shard, root=0)
    result = np.empty((size, 2)) if rank == 0 else None
    comm.Gather(shard**2, result, root=0)
    if rank == 0:
        assert result is not None and dataset is not None
        assert np.array_equal(result, dataset**2)
        return f"rank 0 gathered {result.tolist()}"
    return f"rank {rank} squared its shard {shard.tolist()}"


DEMOS = {
    "p2p": point_to_point,
    "bcast": broadcast,
    "allreduce": allreduce,
    "scatter": scatter_gather,
}


def main(argv: list[str]) -> int:
    """Run the named demos (all by default); print one line per rank per demo."""
    try:
        from mpi4py import MPI
    except ImportError:
        print("mpi4py is missing: pip install mpi4py mpich", file=sys.stderr)
        return 2
    names = argv or list(DEMOS)
    unknown = [n for n in names if n not in DEMOS]
    if unknown:
        print(f"unknown demo {unknown[0]!r}: choose from {', '.join(DEMOS)}", file=sys.stderr)
        return 2
    comm = MPI.COMM_WORLD
    if comm.Get_size() < 2:
        print("run me with at least 2 processes: mpiexec -n 2 python -m ...", file=sys.stderr)
        return 2
    for name in names:
        line = DEMOS[name](comm)
        # gather the lines to rank 0 so the output is in rank order, not interleaved
        lines = comm.gather(line, root=0)
        if lines is not None:  # rank 0
            print(f"[{name}]")
            for text in lines:
                print("  " + text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
