"""Typical single mistakes in chapter 3's exercises: each fails its check, and the message
names the mistake (tests/mutations.py). The collective checks simulate the second rank in
this process first, so these run in well under a second each; only the reference and the
mistakes the simulation cannot see reach the two real gloo processes."""

from tests.mutations import (
    Mutation,
)

SLUG = "ch03_training_at_scale"
SLICE = "batch[rank * per_rank : (rank + 1) * per_rank]"
BROADCAST = "comm.broadcast(t.data, src)"
REDUCE = "comm.allreduce(p.grad)"

MUTATIONS = [
    # shard_batch
    Mutation("shard_batch", SLICE, "batch[rank::world_size]", r"interleav|contiguous"),
    Mutation("shard_batch", SLICE, "batch[rank * per_rank :]", r"stop|end of the shard"),
    Mutation(
        "shard_batch",
        SLICE,
        "batch[rank * per_rank : (rank + 1) * per_rank + 1]",
        r"one row too many|off by one",
    ),
    Mutation(
        "shard_batch",
        "per_rank = batch.shape[0] // world_size",
        "per_rank = world_size",
        r"B / world_size rows",
    ),
    Mutation("shard_batch", SLICE, f"batch[:, {SLICE[6:-1]}]", r"dim 0 \(the rows"),
    # broadcast_parameters
    Mutation(
        "broadcast_parameters",
        "[*model.parameters(), *model.buffers()]",
        "model.parameters()",
        r"buffers",
    ),
    Mutation("broadcast_parameters", BROADCAST, "comm.broadcast(t.clone(), src)", r"in place"),
    Mutation(
        "broadcast_parameters", BROADCAST, "comm.broadcast(t.data, comm.rank)", r"src|rank 0's"
    ),
    Mutation(
        "broadcast_parameters",
        BROADCAST,
        f"if comm.rank == src:\n            {BROADCAST}",
        r"every rank calls|collective",
    ),
    Mutation("broadcast_parameters", BROADCAST, "comm.allreduce(t.data)", r"allreduce.*sums"),
    # allreduce_gradients
    Mutation(
        "allreduce_gradients",
        "            p.grad.div_(comm.world_size)\n",
        "",
        r"divide by world_size|summed",
    ),
    Mutation(
        "allreduce_gradients",
        "if p.grad is not None:",
        "if True:",
        r"grad is None|no gradient",
    ),
    Mutation("allreduce_gradients", REDUCE, "comm.allreduce(p.grad.clone())", r"in place"),
    Mutation("allreduce_gradients", REDUCE, "comm.allreduce(p.data)", r"p\.grad, not"),
    Mutation("allreduce_gradients", REDUCE, "comm.allreduce(p.grad, async_op=True)", r"wait\(\)"),
    Mutation(
        "allreduce_gradients",
        "p.grad.div_(comm.world_size)",
        "p.grad.div_(comm.world_size - 1)",
        r"divide by world_size",
    ),
]
