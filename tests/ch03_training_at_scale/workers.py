"""Module-level worker functions the tests launch (spawned and MPI processes import them)."""

import os
import time
from typing import Any

import torch

from dlcurriculum.ch03_training_at_scale.comm import Comm
from dlcurriculum.ch03_training_at_scale.config import DPConfig
from dlcurriculum.ch03_training_at_scale.dp_train import train_dp


def both_models(comm: Comm, cnn: DPConfig, transformer: DPConfig) -> list[dict[str, Any]]:
    """Train the CNN and the transformer in one launch (an MPI job costs seconds to start)."""
    return [train_dp(comm, cnn), train_dp(comm, transformer)]


def crash_mid_step(comm: Comm) -> str:
    """Rank 1 dies hard (no cleanup, like a segfault) between two allreduces."""
    t = torch.ones(4)
    comm.allreduce(t)
    if comm.rank == 1:
        os._exit(3)
    comm.allreduce(t)  # rank 0 waits here for a peer that is gone
    return "unreachable"


def hang_mid_step(comm: Comm) -> str:
    """Rank 1 stops answering (a deadlock, a stuck filesystem) between two allreduces."""
    t = torch.ones(4)
    comm.allreduce(t)
    if comm.rank == 1:
        time.sleep(120)
    comm.allreduce(t)
    return "unreachable"
