"""Chapter 3, training at scale: data, pipeline and tensor parallelism, ZeRO-1, mixed
precision, and a fused Adam in Triton.

The learner writes the three pieces of data parallelism (shard the batch, broadcast the
initial weights, average the gradients); `dlc check 3` grades them by launching two real
processes, and `dlc run dp-mnist --impl WORKSPACE` trains with the learner's functions.
"""
