"""Bad input: missing MPI, and a rank that dies mid-step (the others must not hang)."""

import re
import sys
from pathlib import Path

import pytest

from dlcurriculum.ch03_training_at_scale import comm as comm_module
from dlcurriculum.ch03_training_at_scale.launch import launch_mpi, launch_torch
from dlcurriculum.core.errors import DlcError
from tests.ch03_training_at_scale.workers import crash_mid_step, hang_mid_step


def test_missing_mpi4py_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now fails
    with pytest.raises(DlcError, match=re.escape("pip install -e '.[mpi]'")):
        comm_module.find_mpiexec()


def test_missing_mpiexec_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DlcError, match=re.escape("pip install -e '.[mpi]'")):
        comm_module.find_mpiexec()


def test_finds_the_mpiexec_next_to_python() -> None:
    found = comm_module.find_mpiexec()
    assert found.name == "mpiexec" and found.is_file()


def test_torch_rank_crash_ends_the_job_with_a_message() -> None:
    # the message names the dead rank: the survivors were stopped, not left to hang
    with pytest.raises(DlcError, match=r"rank 1 died without a word \(exit code 3\)"):
        launch_torch(crash_mid_step, 2, timeout_s=5.0)


def test_mpi_rank_crash_ends_the_job_with_a_message() -> None:
    with pytest.raises(DlcError, match="rank 1 died without a word"):
        launch_mpi(crash_mid_step, 2, timeout_s=2.0)


def test_mpi_hung_rank_makes_the_others_time_out() -> None:
    """MPI has no timeout of its own: our deadline turns the hang into an error (its message
    says the deadline fired, so no wall-clock bound is needed here)."""
    with pytest.raises(DlcError, match="rank 0: allreduce waited 2 s for the other ranks"):
        launch_mpi(hang_mid_step, 2, timeout_s=2.0)
