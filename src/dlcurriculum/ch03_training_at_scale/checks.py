"""Graders for chapter 3's exercises; the collective ones launch two real gloo processes.

Oracles: `torch.chunk` for sharding; a model built in this process from rank 0's seed for
the broadcast; the gradient of the whole batch computed in one process for the allreduce
(the definition of what data parallelism must reproduce).

Diagnose, then compare: each check first plays the second rank in this process (`_Peer`
knows the other rank's copy of every tensor of the model, so the collectives are exact and
every call is recorded) to name the typical mistakes in milliseconds, then runs the real
two-process job, the final judge.
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
from dlcurriculum.core.checks import ExerciseFailure, assert_close, name_the_mistake
from dlcurriculum.core.errors import DlcError

DEADLINE_S = 10.0
"""Every collective of the toy jobs takes milliseconds: a rank waiting this long is stuck."""


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


class _Later:
    """An async collective's handle: the sum lands in the tensor only on wait()."""

    def __init__(self, apply: Callable[[], None]):
        self.apply, self.done = apply, False

    def wait(self) -> None:
        if not self.done:
            self.apply()
            self.done = True


class _Peer:
    """Rank `rank` of a world of 2, simulated in this process.

    `tensors` maps a name to this rank's tensor and the other rank's copy of it. A tensor
    passed to a collective is recognised by where its data starts (t.data, t.detach() and
    views of the whole tensor share it); a copy (t.clone()) is not the model's, so a
    collective on it changes nothing the check looks at, as on real ranks.
    """

    world_size = 2

    def __init__(self, rank: int, tensors: dict[str, tuple[Tensor, Tensor]]):
        self.rank = rank
        self.known = {mine.data_ptr(): (name, other) for name, (mine, other) in tensors.items()}
        self.calls: list[tuple[str, str | None, int]] = []  # (collective, tensor name, src)
        self.handles: list[_Later] = []

    def _name(self, t: Tensor) -> tuple[str | None, Tensor | None]:
        name, other = self.known.get(t.data_ptr(), (None, None))
        if other is not None and other.numel() != t.numel():
            return None, None
        return name, other

    def allreduce(self, t: Tensor | None, async_op: bool = False) -> Any:  # None: named below
        if t is None:
            raise ExerciseFailure(
                "comm.allreduce got None: a parameter without a gradient (.grad is None, "
                "like one the loss does not use) must be skipped"
            )
        name, other = self._name(t)
        self.calls.append(("allreduce", name, -1))

        def apply() -> None:
            if other is not None:
                t.add_(other.view_as(t))

        if not async_op:
            apply()
            return None
        self.handles.append(_Later(apply))
        return self.handles[-1]

    def broadcast(self, t: Tensor, src: int = 0) -> None:
        name, other = self._name(t)
        self.calls.append(("broadcast", name, src))
        if other is not None and src != self.rank:
            t.copy_(other.view_as(t))

    def allgather(self, t: Tensor) -> list[Tensor]:
        _, other = self._name(t)
        self.calls.append(("allgather", None, -1))
        theirs = t.clone() if other is None else other.view_as(t).clone()
        return [t.clone(), theirs] if self.rank == 0 else [theirs, t.clone()]

    def send(self, t: Tensor, dst: int) -> None:
        raise ExerciseFailure("use the collectives (broadcast, allreduce), not send/recv")

    def recv(self, t: Tensor, src: int) -> None:
        raise ExerciseFailure("use the collectives (broadcast, allreduce), not send/recv")


def _shard_mistakes(batch: Tensor, rank: int, world_size: int) -> dict[str, Tensor]:
    """What each typical slicing mistake returns (hint -> shard)."""
    per = batch.shape[0] // world_size
    start, stop = rank * per, (rank + 1) * per
    return {
        "rank r must get a contiguous block of rows, not every world_size-th row "
        "(batch[rank::world_size] interleaves the shards)": batch[rank::world_size],
        "the slice has no stop: rank r's shard ends at (rank + 1) * B / world_size": batch[start:],
        "the shard has one row too many (off by one): Python slices already exclude the "
        "stop index (rank + 1) * B / world_size": batch[start : stop + 1],
        "the shard has one row too few (off by one): batch[start:stop] already includes "
        "row stop - 1": batch[start : stop - 1],
        "each rank gets B / world_size rows, not world_size rows": batch[
            rank * world_size : (rank + 1) * world_size
        ],
        "slice dim 0 (the rows: the batch dimension), not dim 1": batch[:, start:stop],
    }


def check_shard_batch(impl: Callable[[Tensor, int, int], Tensor]) -> None:
    """Shards are the batch's equal, disjoint, ordered slices (oracle: torch.chunk)."""
    batch = torch.arange(144).reshape(12, 12)  # square: a slice of the wrong dim fits too
    for world_size in (2, 3, 4, 1):
        expected = batch.chunk(world_size)
        for rank in range(world_size):
            got = impl(batch, rank, world_size)
            what = f"shard_batch(batch of 12, rank={rank}, world_size={world_size})"
            mistakes = {
                hint: wrong
                for hint, wrong in _shard_mistakes(batch, rank, world_size).items()
                if not (wrong.shape == expected[rank].shape and torch.equal(wrong, expected[rank]))
            }
            name_the_mistake(got, mistakes, what, atol=0.0, rtol=0.0)
            assert_close(
                got, expected[rank], what, atol=0.0, rtol=0.0,
                hint="rank r gets rows r*B/W .. (r+1)*B/W - 1; shards must not overlap",
            )  # fmt: skip
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


def _diagnose_broadcast(impl: Callable[..., None], expected: dict[str, Tensor]) -> str:
    """Play rank 1 (a receiver) in this process and name what went wrong.

    Returns the hint for the real run: a broadcast of tensors that are not the model's own
    (a legitimate flat buffer, or a copy by mistake) cannot be simulated, so it is judged
    there, with the likely mistake named.
    """
    model = _toy_model(seed=1)
    mine = model.state_dict()
    peer = _Peer(1, {name: (mine[name], value) for name, value in expected.items()})
    impl(model, peer)
    if any(op == "allreduce" for op, _, _ in peer.calls):
        raise ExerciseFailure(
            "rank 1 called allreduce, which sums the ranks' weights: copy rank 0's "
            "with comm.broadcast(t, src)"
        )
    if not peer.calls:
        raise ExerciseFailure(
            "rank 1 made no collective call: every rank calls comm.broadcast (a collective: "
            "the receivers take part too), so do not guard it with `if comm.rank == src`"
        )
    wrong_src = sorted({src for op, _, src in peer.calls if op == "broadcast" and src != 0})
    if wrong_src:
        raise ExerciseFailure(
            f"rank 1 broadcast from src={wrong_src}: every rank passes the same src "
            "(rank 0's), not its own rank, or each waits for the others forever"
        )
    if any(name is None for _, name, _ in peer.calls):
        return (
            "comm.broadcast(t, src) overwrites t in place: broadcast the model's own tensors "
            "(t.data), not copies such as t.clone(), or copy the result back"
        )
    got, done = model.state_dict(), {name for _, name, _ in peer.calls}
    missed = [n for n in expected if not torch.equal(got[n], expected[n]) and n not in done]
    if missed and set(missed) <= {name for name, _ in model.named_buffers()}:
        raise ExerciseFailure(
            f"the buffers {missed} were not broadcast: batch-norm running statistics are part "
            "of the replica, so broadcast every buffer (model.buffers()) as well as every parameter"
        )
    if missed:
        raise ExerciseFailure(f"{missed} were not broadcast: send every parameter and buffer")
    return "broadcast every parameter and every buffer (batch-norm running stats) from rank 0"


def check_broadcast_parameters(impl: Callable[[nn.Module, Comm], None]) -> None:
    """After the broadcast, both of 2 processes hold rank 0's parameters *and* buffers."""
    expected = _toy_model(seed=0).state_dict()
    hint = _diagnose_broadcast(impl, expected)
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
    states = launch_torch(_broadcast_worker, 2, _portable(impl), timeout_s=DEADLINE_S)
    for rank, state in enumerate(states):
        for name, value in expected.items():
            assert_close(
                state[name].float(),
                value.float(),
                f"rank {rank}: {name} after broadcast",
                atol=0.0,
                rtol=0.0,
                hint=hint,
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


def _shard_backward(model: nn.Module, rank: int, world_size: int) -> None:
    """The gradient of the mean loss on this rank's shard of the batch, into .grad."""
    x, y = _batch()
    per = len(x) // world_size
    mine = slice(rank * per, (rank + 1) * per)
    F.cross_entropy(model(x[mine]), y[mine]).backward()


def _allreduce_worker(comm: Comm, impl: Callable[..., None]) -> dict[str, Tensor | None]:
    model = _grad_model()
    _shard_backward(model, comm.rank, comm.world_size)
    impl(model, comm)
    return {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}


def _diagnose_allreduce(impl: Callable[..., None], mean: dict[str, Tensor]) -> str:
    """Play each rank of two in this process and name what went wrong.

    Returns the hint for the real run (see `_diagnose_broadcast`).
    """
    models = [_grad_model() for _ in range(2)]
    for rank, model in enumerate(models):
        _shard_backward(model, rank, 2)
    grads = [_grads(m) for m in models]
    summed = {n: grads[0][n] + grads[1][n] for n in mean}
    for rank, model in enumerate(models):
        others = dict(models[1 - rank].named_parameters())
        tensors = {f"{n}.data": (p.data, others[n].data) for n, p in model.named_parameters()}
        tensors |= {n: (p.grad, grads[1 - rank][n]) for n, p in model.named_parameters()
                    if p.grad is not None}  # fmt: skip
        peer = _Peer(rank, tensors)
        try:
            impl(model, peer)
        except (AttributeError, TypeError) as e:
            if "NoneType" not in str(e):
                raise
            raise ExerciseFailure(
                f"{type(e).__name__}: {e}: a parameter without a gradient (.grad is None, "
                "like one the loss does not use) must be skipped"
            ) from None
        if any(not h.done for h in peer.handles):
            raise ExerciseFailure(
                "allreduce(..., async_op=True) returns a handle: call .wait() on it before "
                "reading the gradient (the sum is not there until then)"
            )
        reduced = [name for op, name, _ in peer.calls if op == "allreduce"]
        if any(name is not None and name.endswith(".data") for name in reduced):
            raise ExerciseFailure(
                "you allreduced the parameters (p.data): average p.grad, not the weights"
            )
        if None in reduced:
            return (
                "comm.allreduce(t) sums t in place: reduce p.grad itself, not a copy such as "
                "p.grad.clone(), or copy the result back"
            )
        if _same(_grads(model), summed):
            raise ExerciseFailure(
                f"rank {rank}: allreduce sums over ranks; divide by world_size to get the "
                "mean (a factor of 2 means you summed, or divided by the wrong count)"
            )
    return "allreduce sums over ranks; divide by world_size to get the mean"


def _grads(model: nn.Module) -> dict[str, Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _same(a: dict[str, Tensor], b: dict[str, Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[n], b[n]) for n in a)


def check_allreduce_gradients(impl: Callable[[nn.Module, Comm], None]) -> None:
    """Each of 2 processes ends with the gradient of the mean loss over the *whole* batch."""
    model = _grad_model()
    x, y = _batch()
    F.cross_entropy(model(x), y).backward()
    mean = {n: p.grad for n, p in model.named_parameters()}
    hint = _diagnose_allreduce(impl, {n: g for n, g in mean.items() if g is not None})
    _allreduce_worker(SingleComm(), impl)  # in this process first: clear tracebacks
    results = launch_torch(_allreduce_worker, 2, _portable(impl), timeout_s=DEADLINE_S)
    for rank, grads in enumerate(results):
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
                hint=hint,
            )
