"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Link, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
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
)
"""The code the learner writes: one function or class each, graded by `dlc check 3`."""

CHAPTER = Chapter(
    number=3,
    slug="ch03_training_at_scale",
    rank=8,
    title="Training at scale",
    summary=(
        "Large models are trained across many accelerators, and a handful of techniques "
        "make that possible: data parallelism, pipeline and tensor (op) sharding, "
        "memory-saving schemes such as ZeRO, and mixed-precision arithmetic. Knowing how "
        "they work explains the constraints that shape real training runs. This chapter is "
        "the most skippable one and can be returned to when you start working with large "
        "models. Its exercise makes a training script data-parallel with message passing, "
        "with a Triton fused optimizer as a lighter alternative."
    ),
    recommended=(
        Reading(
            title="How to Train Really Large Models on Many GPUs?",
            authors="Lilian Weng",
            year=2021,
            url="https://lilianweng.github.io/posts/2021-09-25-train-large/",
            section="all",
            why="One overview of data, pipeline and tensor parallelism, mixture-of-experts, "
            "and memory-saving designs such as mixed precision and activation checkpointing.",
        ),
    ),
    optional=(
        Reading(
            title="Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM",
            authors="Deepak Narayanan et al.",
            year=2021,
            url="https://arxiv.org/abs/2104.04473",
            section="sections 2-3",
            why="A detailed analysis of how to combine tensor, pipeline and data parallelism "
            "efficiently.",
        ),
        Reading(
            title="ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
            authors="Samyam Rajbhandari, Jeff Rasley, Olatunji Ruwase, Yuxiong He",
            year=2019,
            url="https://arxiv.org/abs/1910.02054",
            section="sections 1-5",
            why="Shards optimizer state, gradients and parameters across data-parallel "
            "workers, trading extra communication for memory.",
        ),
        Reading(
            title="Mixed Precision Training",
            authors="Paulius Micikevicius et al.",
            year=2017,
            url="https://arxiv.org/abs/1710.03740",
            section="section 3",
            why="The standard half-precision recipe: an fp32 master copy of the weights and "
            "loss scaling to avoid gradient underflow.",
        ),
        Reading(
            title="MPI Tutorial",
            authors="Wes Kendall",
            year=2011,
            url="http://mpitutorial.com/tutorials",
            section="the tutorials after 'Introduction and MPI installation'",
            why="Point-to-point and collective message passing (broadcast, reduce, "
            "allreduce), the building blocks of data parallelism.",
        ),
        Reading(
            title="Triton tutorial: Vector Addition",
            authors="Philippe Tillet (OpenAI)",
            year=2021,
            url="https://triton-lang.org/master/getting-started/tutorials/01-vector-add.html",
            section="all",
            why="The first steps of writing GPU kernels in Python with Triton, needed for the "
            "fused-Adam alternative.",
        ),
    ),
    links=(
        Link(
            title="MPI for Python (mpi4py) documentation",
            url="https://mpi4py.readthedocs.io/en/stable/",
            why="The library of the warm-up and of the MPI backend: how to send, broadcast and "
            "allreduce Python objects and buffers between processes (pip extra `mpi`).",
        ),
        Link(
            title="Adam: A Method for Stochastic Optimization",
            url="https://arxiv.org/abs/1412.6980",
            why="Algorithm 1 is the update rule the fused-Adam alternative computes in one "
            "kernel launch.",
        ),
    ),
    exercises=(
        Assignment(
            title="Data-parallel training with message passing",
            description=(
                "Parallelize your MNIST script (or your transformer). Get familiar with "
                "mpi4py first, then implement data parallelism by hand: each worker reads its "
                "own shard of the data, the initial weights are broadcast from one worker so "
                "all start identical, and gradients are averaged with an allreduce before "
                "every optimizer step. Run with two workers and check that the learning curve "
                "matches a single worker at the same global batch size. Pipeline parallelism "
                "or op sharding are harder optional extensions."
            ),
            success_criteria=(
                "the dataset is sharded so that workers see disjoint examples each step",
                "initial parameters are broadcast, so all workers start identical",
                "gradients are averaged with an allreduce before each step",
                "two workers at global batch B give the same parameters (to float tolerance) "
                "and learning curve as one worker at batch B",
                "optional: pipelined micro-batches or a sharded layer reproduce the "
                "unsharded forward pass",
            ),
        ),
        Assignment(
            title="Fused Adam in Triton",
            description=(
                "A less practical but fun alternative: implement Adam so that the whole "
                "update for a parameter tensor (moment updates, bias correction and the step) "
                "happens in a single low-level kernel. Write the update rule as a "
                "@triton.jit kernel, wrap it in a PyTorch optimizer that launches it, and "
                "benchmark it against torch.optim.Adam."
            ),
            success_criteria=(
                "the update for each parameter tensor is a single @triton.jit kernel launch",
                "after many steps parameters match torch.optim.Adam (same hyperparameters) "
                "to float tolerance",
                "a benchmark on a GPU reports time per step against torch.optim.Adam",
            ),
            kind="alternative",
        ),
    ),
    time="1 week",
    experiments=(
        Experiment(
            name="dp-mnist",
            summary="data-parallel MNIST CNN from scratch: 1 vs 2 processes (gloo or MPI)",
        ),
        Experiment(
            name="dp-transformer",
            summary="data-parallel transformer vs 1 process and DDP; ZeRO-1 option",
        ),
        Experiment(
            name="pipeline",
            summary="GPipe pipeline parallelism over 2 stages of the transformer",
        ),
        Experiment(
            name="tensor-parallel",
            summary="Megatron tensor parallelism: heads and MLP split across ranks",
        ),
    ),
)
