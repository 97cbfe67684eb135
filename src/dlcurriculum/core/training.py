"""The resumable scaffolding every checkpointing loop shares: one `TrainingSession`.

A loop keeps what it changes as it trains in a small dataclass (its typed state: step,
training seconds, best score...). The session resumes it, with the weights, optimizer
and random streams, from the run's newest checkpoint; logs metrics so that a resumed run's
metrics.jsonl equals an uninterrupted one; keeps the training clock across resumes (and
stopped while evaluating); shows the progress bar; and writes checkpoints. The loop itself
is left with the training.
"""

import copy
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from dlcurriculum.core import runs
from dlcurriculum.core.seed import rng_state, set_rng_state


@runtime_checkable
class Stateful(Protocol):
    """Anything checkpointed by its state dict: a module, an optimizer, a scheduler..."""

    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any, /) -> Any: ...


@runtime_checkable
class LoopState(Protocol):
    """A loop's typed state: a dataclass with a step (a field or a property over one) and a
    float field of training seconds (`train_s` unless the session is told another)."""

    @property
    def step(self) -> int:
        """The step the metrics are logged at and the checkpoint is named by."""
        ...

    """Training seconds so far (evaluation excluded), kept across resumes."""


S = TypeVar("S", bound=LoopState)


class Checkpointed:
    """A value without a state dict (an array, a generator, an environment's state),
    checkpointed through a getter and a setter so a session can treat it as Stateful."""

    def __init__(self, get: Callable[[], Any], set: Callable[[Any], Any]):
        self.get, self.set = get, set

    def state_dict(self) -> Any:
        return self.get()

    def load_state_dict(self, state: Any, /) -> Any:
        return self.set(state)


class TrainingSession(Generic[S]):
    """Resume, log, time, show progress and checkpoint one training loop.

    Args:
        run_dir: the run folder (None: in memory only, nothing logged or resumed).
        state: the loop's fresh state; replaced by the checkpoint's when resuming.
        total: the progress bar's total, in the units of `state.step`.
        desc: the progress bar's label.
        stateful: objects saved and restored by state dict, under these checkpoint keys.
        clock: the state's float field of seconds that the training clock keeps.

    A checkpoint holds `{key: obj.state_dict()}` for each stateful object, "rng" (python,
    numpy and torch streams) and "state" (the dataclass's fields as a dict), plus anything
    passed to `checkpoint`; the keys are those the loops wrote before the session existed,
    so older run folders resume.
    """

    def __init__(
        self,
        run_dir: Path | None,
        state: S,
        total: int,
        desc: str,
        stateful: Mapping[str, Stateful] | None = None,
        clock: str = "train_s",
    ):
        self.run_dir = run_dir
        if run_dir:
            run_dir.mkdir(parents=True, exist_ok=True)
        self.stateful = dict(stateful or {})
        ckpt = runs.latest_checkpoint(run_dir) if run_dir else None
        self.saved: dict[str, Any] | None = runs.load_checkpoint(ckpt) if ckpt else None
        """The checkpoint resumed from (None for a fresh run), for keys the loop restores."""
        if self.saved is not None:
            for key, obj in self.stateful.items():
                obj.load_state_dict(self.saved[key])
            if "rng" in self.saved:  # checkpoints of rlhf made before the session lack it
                set_rng_state(self.saved["rng"])
            state = type(state)(**self.saved["state"])
        self.state = state
        self.logger = (
            runs.MetricLogger(run_dir, resume_step=state.step if self.resumed else None)
            if run_dir
            else None
        )
        self.bar = runs.progress(total, desc, initial=state.step)
        if runs.meter:  # `dlc run --estimate` sizes a checkpoint of every session
            runs.meter.session(self)
        self.clock_field = clock
        self.clock = runs.Stopwatch(getattr(state, clock))

    @property
    def resumed(self) -> bool:
        """Whether the run continues from a checkpoint."""
        return self.saved is not None

    def log(self, step: int, **row: Any) -> None:
        """Append one row of metrics (nothing without a run folder)."""
        if self.logger:
            self.logger.log(step, **row)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the training clock: evaluation time is not training time."""
        setattr(self.state, self.clock_field, self.clock.elapsed)
        try:
            yield
        finally:
            self.clock = runs.Stopwatch(getattr(self.state, self.clock_field))

    def contents(self, **extra: Any) -> dict[str, Any]:
        """What a checkpoint holds now; later training does not change it (state copied)."""
        fields = {f.name: getattr(self.state, f.name) for f in dataclasses.fields(self.state)}  # type: ignore[arg-type]
        return {
            "step": self.state.step,
            **{key: obj.state_dict() for key, obj in self.stateful.items()},
            "rng": rng_state(),
            "state": copy.deepcopy(fields),
            **extra,
        }

    def checkpoint(self, contents: dict[str, Any] | None = None, **extra: Any) -> Path | None:
        """Write a checkpoint at state.step (nothing without a run folder).

        Args:
            contents: an earlier `contents()` to write instead of the present ones (e.g. the
                state before a failed update).
            extra: more entries for the checkpoint (ignored with `contents`).
        """
        if self.run_dir is None:
            return None
        contents = contents if contents is not None else self.contents(**extra)
        return runs.save_checkpoint(self.run_dir, contents["step"], contents)

    def close(self) -> None:
        """Close the progress bar and the metric sinks."""
        self.bar.close()
        if self.logger:
            self.logger.close()

    def __enter__(self) -> "TrainingSession[S]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
