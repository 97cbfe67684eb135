import json
from pathlib import Path

import pytest
import torch

from dlcurriculum.core import runs


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    runs.atomic_write_text(path, "old")
    with pytest.raises(RuntimeError), runs.atomic_open(path) as f:
        f.write("half")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temp file left behind


def test_metric_logger_resume_drops_rows_after_checkpoint(tmp_path: Path) -> None:
    with runs.MetricLogger(tmp_path) as log:
        for step in range(1, 6):
            log.log(step, **{"losses/train": 1.0 / step})
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"step": 6, "losses/tr')  # a line torn by a crash
    assert [r["step"] for r in runs.read_metrics(tmp_path)] == [1, 2, 3, 4, 5]
    with runs.MetricLogger(tmp_path, resume_step=3) as log:
        log.log(4, **{"losses/train": torch.tensor(0.5)})
    rows = runs.read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["losses/train"] == 0.5
    assert any(p.name.startswith("events.out.tfevents") for p in tmp_path.iterdir())


def test_read_jsonl_keeps_every_object_line_and_only_those(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    assert runs.read_jsonl(path) == []
    path.write_bytes(b'{"a": 1}\n5\n\xff\xfe\n[1]\n{"a": 2}\n{"a": 3, "b"')
    assert runs.read_jsonl(path) == [{"a": 1}, {"a": 2}]


def test_checkpoints_are_pruned_and_latest_is_found(tmp_path: Path) -> None:
    for step in (10, 20, 30):
        runs.save_checkpoint(tmp_path, step, {"x": torch.tensor([step])})
    assert [p.name for p in sorted((tmp_path / "checkpoints").iterdir())] == [
        "step_00000020.pt",
        "step_00000030.pt",
    ]
    latest = runs.latest_checkpoint(tmp_path)
    assert latest is not None and runs.load_checkpoint(latest)["x"].item() == 30


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = runs.save_checkpoint(tmp_path, 1, {"x": 1})
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(runs.DlcError, match="delete it to resume from the one before"):
        runs.load_checkpoint(path)


def test_new_run_dirs_are_unique(tmp_path: Path) -> None:
    dirs = {runs.new_run_dir("exp", tmp_path) for _ in range(3)}
    assert len(dirs) == 3 and all(d.parent == tmp_path / "exp" for d in dirs)


def test_read_config_rejects_non_run_folder(tmp_path: Path) -> None:
    with pytest.raises(runs.DlcError, match="not a run folder"):
        runs.read_config(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"experiment": "x"}))
    assert runs.read_config(tmp_path)["experiment"] == "x"
