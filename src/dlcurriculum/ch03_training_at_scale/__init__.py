"""Chapter 3, training at scale: data, pipeline and tensor parallelism, ZeRO-1, mixed
precision, and a fused Adam in Triton.

The learner writes the three pieces of data parallelism (shard the batch, broadcast the
initial weights, average the gradients); `dlc check 3` grades them by launching two real
processes, and `dlc run dp-mnist --impl WORKSPACE` trains with the learner's functions.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
    Exercise(
        "shard_batch", module="data_parallel", qualname="shard_batch", check="check_shard_batch"
    ),
    Exercise(
        "broadcast_parameters",
        module="data_parallel",
        qualname="broadcast_parameters",
        check="check_broadcast_parameters",
    ),
    Exercise(
        "allreduce_gradients",
        module="data_parallel",
        qualname="allreduce_gradients",
        check="check_allreduce_gradients",
        difficulty=2,
        depends_on=("shard_batch",),
    ),
]
