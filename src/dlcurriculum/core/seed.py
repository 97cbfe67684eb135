"""Seeding and device choice."""

import os
import random

import numpy as np
import torch

from dlcurriculum.core.errors import DlcError


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed python, numpy and torch (CUDA included).

    Args:
        seed: the run's seed.
        deterministic: also ask torch for deterministic kernels (slower on GPU).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def choose_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; `cuda` without a GPU is a DlcError naming the fix."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DlcError(f"device {name}: no CUDA GPU is visible here; use --device cpu (or auto)")
    if name.startswith("mps") and not torch.backends.mps.is_available():
        raise DlcError(f"device {name}: MPS is not available here; use --device cpu (or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise DlcError(f"device {name!r}: unknown device; use cpu, cuda or auto") from None


def rng_state() -> dict:
    """Every RNG state a run depends on, for checkpoints (resume must continue identically)."""
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what `rng_state` saved."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
