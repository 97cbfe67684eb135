"""The cluster entry point joins the group a launcher (torchrun) describes in the environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

from dlcurriculum.ch03_training_at_scale.launch import free_port


def test_two_processes_from_torchrun_style_environment(tmp_path: Path) -> None:
    port = str(free_port())
    sets = ["model=cnn", "data=synthetic", "steps=3", "batch_size=8", "width=4", "device=cpu"]
    cmd = [sys.executable, "-m", "dlcurriculum.ch03_training_at_scale.cluster"]
    cmd += [a for s in sets for a in ("--set", s)] + ["--out", str(tmp_path / "r.json")]
    procs = []
    for rank in (0, 1):
        env = os.environ | {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "OMP_NUM_THREADS": "1",
        }
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert "2 processes" in outs[0] and outs[1] == ""
    result = json.loads((tmp_path / "r.json").read_text())
    assert len(result["losses"]) == 3
