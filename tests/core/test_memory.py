"""keep_freed_memory: the large tensors of a repeated step stop faulting in afresh."""

import subprocess
import sys

import pytest

PROBE = """
import resource, sys, torch
from dlcurriculum.core.memory import keep_freed_memory

def step():  # three 100 MB tensors alive at once, then freed, as in a training step
    a = torch.empty(25_000_000).fill_(1.0)
    b = a * 2
    return (a + b).sum()

applied = keep_freed_memory() if sys.argv[1] == "keep" else None
faults = []
for _ in range(30):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, sum(faults[10:]))  # after the heap has settled: it takes a few steps
"""


def _probe(mode: str) -> tuple[str, int]:
    # its own process: the setting lasts until the process exits
    run = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    applied, faults = run.stdout.split()
    return applied, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_keep_freed_memory_stops_a_steps_large_tensors_faulting_in_every_step() -> None:
    default = _probe("default")[1]
    assert default > 20 * 70_000  # 300 MB in 4 KiB pages, faulted in again in each of 20 steps
    applied, kept = _probe("keep")
    assert applied == "True"
    # where the freed blocks land in the heap varies from run to run, so a step now and then
    # may still grow it: far fewer faults, not none
    assert kept < default / 10
