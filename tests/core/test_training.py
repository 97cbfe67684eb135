"""TrainingSession: a run stopped anywhere and resumed ends exactly as an uninterrupted one."""

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from dlcurriculum.core import runs
from dlcurriculum.core.seed import rng_state, seed_everything
from dlcurriculum.core.training import TrainingSession


@dataclass
class ToyState:
    step: int = 0
    train_s: float = 0.0
    last_loss: float = float("nan")


class Stop(Exception):
    pass


def train(run_dir: Path | None, steps: int = 12, stop_at: int | None = None) -> nn.Linear:
    """Fit a line to random batches, checkpointing every 4 steps; raise Stop at `stop_at`."""
    seed_everything(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    stateful = {"model": model, "optimizer": optimizer}
    with TrainingSession(run_dir, ToyState(), steps, "toy", stateful) as session:
        state = session.state
        while state.step < steps:
            if state.step == stop_at:
                raise Stop
            x = torch.randn(8, 3)  # the global stream: resume must restore it
            loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            state.step += 1
            state.last_loss = loss.item()
            session.bar.update(1)
            if state.step % 4 == 0:
                with session.paused():
                    session.log(state.step, loss=state.last_loss)
                session.checkpoint()
    return model


@pytest.mark.parametrize("stop_at", [5, 8, 11])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path: Path, stop_at: int) -> None:
    whole = train(tmp_path / "whole")
    with pytest.raises(Stop):
        train(tmp_path / "cut", stop_at=stop_at)
    resumed = train(tmp_path / "cut")
    assert torch.equal(whole.weight, resumed.weight) and torch.equal(whole.bias, resumed.bias)
    assert [r["loss"] for r in runs.read_metrics(tmp_path / "cut")] == [
        r["loss"] for r in runs.read_metrics(tmp_path / "whole")
    ]


def test_without_the_random_state_resume_would_differ(tmp_path: Path) -> None:
    """The equality above depends on the checkpointed RNG: drop it and the runs part."""
    whole = train(tmp_path / "whole")
    with pytest.raises(Stop):
        train(tmp_path / "cut", stop_at=6)
    ckpt = runs.latest_checkpoint(tmp_path / "cut")
    assert ckpt is not None
    saved = runs.load_checkpoint(ckpt)
    seed_everything(123)
    saved["rng"] = rng_state()
    torch.save(saved, ckpt)
    assert not torch.equal(whole.weight, train(tmp_path / "cut").weight)


def test_resume_loads_a_checkpoint_written_before_the_session_existed(tmp_path: Path) -> None:
    """Older loops saved their state as a plain dict with the same keys: it becomes the
    dataclass, and the stateful objects get their state dicts back."""
    model = nn.Linear(2, 1)
    saved_state = {"step": 7, "train_s": 3.5, "last_loss": 0.25}
    runs.save_checkpoint(
        tmp_path, 7, {"model": model.state_dict(), "rng": rng_state(), "state": saved_state}
    )
    fresh = nn.Linear(2, 1)
    session = TrainingSession(tmp_path, ToyState(), 10, "toy", {"model": fresh})
    assert session.resumed and session.state == ToyState(7, 3.5, 0.25)
    assert torch.equal(fresh.weight, model.weight)
    assert session.clock.elapsed >= 3.5
    session.close()


def test_evaluation_time_is_not_training_time(tmp_path: Path) -> None:
    session = TrainingSession(tmp_path, ToyState(), 1, "toy")
    with session.paused():
        time.sleep(0.2)
    assert session.clock.elapsed < 0.1
    session.close()


def test_in_memory_sessions_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    train(None)
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_of_earlier_contents_keeps_them(tmp_path: Path) -> None:
    """contents() copies the state: training on does not change a snapshot taken before."""
    session = TrainingSession(tmp_path, ToyState(step=3), 10, "toy")
    before = session.contents()
    session.state.step, session.state.last_loss = 9, 1.0
    path = session.checkpoint(before)
    session.close()
    assert path is not None and path.name == "step_00000003.pt"
    assert runs.load_checkpoint(path)["state"]["step"] == 3
