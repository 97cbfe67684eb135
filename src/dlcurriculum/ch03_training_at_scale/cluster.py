"""Data-parallel training under a real launcher: torchrun (any number of nodes) or mpiexec.

`dlc run dp-*` starts its own processes on one machine. On a cluster, the launcher starts
them instead, and every process runs this module:

    # 2 nodes x 4 GPUs; run the same line on every node (NODE_RANK 0 and 1)
    torchrun --nnodes 2 --nproc-per-node 4 --node-rank $NODE_RANK \\
        --rdzv-backend c10d --rdzv-endpoint $HEAD_NODE:29500 \\
        -m dlcurriculum.ch03_training_at_scale.cluster --set model=transformer --set steps=1000

    # MPI, e.g. inside a Slurm allocation
    mpiexec -n 8 python -m dlcurriculum.ch03_training_at_scale.cluster --backend mpi

Rank 0 prints the loss every few steps and writes the result as JSON to --out.
"""

import argparse
import json
import os
from pathlib import Path

import torch

from dlcurriculum.ch03_training_at_scale.comm import Comm, MPIComm, init_torch_from_env
from dlcurriculum.ch03_training_at_scale.config import DPConfig
from dlcurriculum.ch03_training_at_scale.dp_train import train_dp
from dlcurriculum.core.config import override
from dlcurriculum.core.runs import atomic_write_text


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Join the launcher's group, train, and return (and on rank 0 write) the result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["torch", "mpi"], default="torch")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, default=Path("dp_result.json"))
    args = parser.parse_args(argv)
    cfg = override(DPConfig(), args.sets)
    comm: Comm
    if args.backend == "mpi":
        comm = MPIComm(cfg.timeout_s)
    else:
        cuda = torch.cuda.is_available() and cfg.device != "cpu"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        comm = init_torch_from_env("nccl" if cuda else "gloo", cfg.timeout_s)
    try:
        result = train_dp(comm, cfg)
        if args.backend == "torch":  # a rank tearing gloo down while its peer still talks aborts
            torch.distributed.barrier()
    finally:
        if args.backend == "torch":
            torch.distributed.destroy_process_group()
    if comm.rank == 0:
        losses = result["losses"]
        assert isinstance(losses, list)
        for step in range(0, len(losses), max(1, len(losses) // 10)):
            print(f"step {step:5d}  loss {losses[step]:.4f}")
        print(f"{comm.world_size} processes, {result['samples_per_s']:.0f} samples/s")
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
