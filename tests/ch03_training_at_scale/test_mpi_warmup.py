"""The MPI warm-up programs run under the mpich package's mpiexec and check themselves."""

import subprocess
import sys

from dlcurriculum.ch03_training_at_scale.comm import find_mpiexec


def test_all_demos_run_on_two_processes() -> None:
    cmd = [
        str(find_mpiexec()),
        "-n",
        "2",
        sys.executable,
        "-m",
        "dlcurriculum.ch03_training_at_scale.mpi_warmup",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for demo in ("[p2p]", "[bcast]", "[allreduce]", "[scatter]"):
        assert demo in out.stdout
    assert "mean over 2 ranks 1.50" in out.stdout
