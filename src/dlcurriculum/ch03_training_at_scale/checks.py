"""Graders for chapter 3's exercises; the collective ones launch two real gloo processes.

Oracles: `torch.chunk` for sharding; a model built in this process from rank 0's seed for
the broadcast; the gradient of the whole batch computed in one process for the allreduce
(the definition of what data parallelism must reproduce).
"""

import importlib.util
import inspect
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dlcurriculum.ch03_training_at_scale.comm import Comm, SingleComm
from dlcurriculum.ch03_training_at_scale.launch import launch_torch
from dlcurriculum.core.checks import ExerciseFailure, assert_close
from dlcurriculum.core.errors import DlcError


class _Portable:
    """A learner's function that a spawned process can load again from its file."""

    def __init__(self, fn: Callable[..., Any]):
        self.path, self.name = inspect.getsourcefile(inspect.unwrap(fn)), fn.__name__

    def __call__(self, *args: Any) -> Any:
        spec = importlib.util.spec_from_file_location("learner_data_parallel", self.path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, self.name)(*args)


def _portable(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Learner modules live in a package only this process knows: reload them from file."""
    module = getattr(fn, "__module__", "") or ""
    return _Portable(fn) if module.startswith("dlc_workspace_") else fn


def check_shard_batch(impl: Callable[[Tensor, int, int], Tensor]) -> None:
    """Shards are the batch's equal, disjoint, ordered slices (oracle: torch.chunk)."""
    batch = torch.arange(24).reshape(12, 2)
    for world_size in (1, 2, 3, 4):
        expected = batch.chunk(world_size)
        for rank in range(world_size):
            got = impl(batch, rank, world_size)
            assert_close(
                got,
                expected[rank],
                f"shard_batch(batch of 12, rank={rank}, world_size={world_size})",
                atol=0.0,
                rtol=0.0,
                hint="rank r gets rows r*B/W .. (r+1)*B/W - 1; shards must not overlap",
            )
    try:
        impl(batch[:10], 0, 4)
    except DlcError:
        return
    raise ExerciseFailure(
        "shard_batch(batch of 10, world_size=4) must raise DlcError: the "
        "ranks' shards would have different sizes"
    )


def _toy_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3))
    model(torch.randn(8, 5, generator=torch.Generator().manual_seed(seed)))  # move BN stats
    return model


def _broadcast_worker(comm: Comm, impl: Callable[..., None]) -> dict[str, Tensor]:
    model = _toy_model(seed=comm.rank)  # every rank starts different
    impl(model, comm)
    return {k: v.clone() for k, v in model.state_dict().items()}


def check_broadcast_parameters(impl: Callable[[nn.Module, Comm], None]) -> None:
    """After the broadcast, both of 2 processes hold rank 0's parameters *and* buffers."""
    expected = _toy_model(seed=0).state_dict()
    alone = _broadcast_worker(SingleComm(), impl)  # in this process first: clear tracebacks
    for name, value in expected.items():
        assert_close(
            alone[name].float(),
            value.float(),
            f"one process: {name} after broadcast",
            atol=0.0,
            rtol=0.0,
            hint="with world_size=1 the broadcast changes nothing",
        )
    for rank, state in enumerate(launch_torch(_broadcast_worker, 2, _portable(impl))):
        for name, value in expected.items():
            assert_close(
                state[name].float(),
                value.float(),
                f"rank {rank}: {name} after broadcast",
                atol=0.0,
                rtol=0.0,
                hint="broadcast every parameter and every buffer (batch-norm running stats) "
                "from rank 0, in place (comm.broadcast(t.data, src))",
            )


def _batch() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(7)
    return torch.randn(8, 5, generator=g), torch.randint(3, (8,), generator=g)


class _GradNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(5, 4), nn.Linear(4, 3)
        self.unused = nn.Linear(2, 2)  # gets no gradient: must stay None

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(torch.tanh(self.fc1(x)))


def _grad_model() -> nn.Module:
    torch.manual_seed(0)
    return _GradNet()


def _allreduce_worker(comm: Comm, impl: Callable[..., None]) -> dict[str, Tensor | None]:
    model = _grad_model()
    x, y = _batch()
    per = len(x) // comm.world_size
    mine = slice(comm.rank * per, (comm.rank + 1) * per)
    F.cross_entropy(model(x[mine]), y[mine]).backward()
    impl(model, comm)
    return {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}


def check_allreduce_gradients(impl: Callable[[nn.Module, Comm], None]) -> None:
    """Each of 2 processes ends with the gradient of the mean loss over the *whole* batch."""
    model = _grad_model()
    x, y = _batch()
    F.cross_entropy(model(x), y).backward()
    _allreduce_worker(SingleComm(), impl)  # in this process first: clear tracebacks
    for rank, grads in enumerate(launch_torch(_allreduce_worker, 2, _portable(impl))):
        for name, p in model.named_parameters():
            if p.grad is None:
                if grads[name] is not None:
                    raise ExerciseFailure(
                        f"rank {rank}: {name} has no gradient in one process "
                        "but got one from allreduce_gradients: skip grad=None"
                    )
                continue
            got = grads[name]
            if got is None:
                raise ExerciseFailure(f"rank {rank}: {name}.grad is None after allreduce")
            assert_close(
                got,
                p.grad,
                f"rank {rank}: {name}.grad after allreduce",
                hint="allreduce sums over ranks; divide by world_size to get the mean "
                "(a factor of 2 means you summed)",
            )
