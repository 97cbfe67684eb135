"""The curriculum's text as data: every chapter's summary, readings and exercises.

Written in our own words after Jacob Hilton's "Deep Learning Curriculum"
(github.com/jacobhilton/deep_learning_curriculum). Titles, authors, years and links of
readings are facts copied from the sources; everything else is paraphrase. Each chapter's
long-form page is its package's README.md; `catalog.py` holds the record types and lookups.
"""

from dlcurriculum.catalog import Chapter, Exercise, Experiment, Reading

R = Reading

_CH00 = Chapter(
    number=0,
    slug="ch00_mnist",
    title="Prerequisite: MNIST with a small CNN",
    summary=(
        "Before the curriculum proper, get fluent with the basic PyTorch training loop by "
        "classifying handwritten digits. A convolutional network with three layers is enough "
        "to reach about 99% test accuracy, and building it yourself exercises data loading, "
        "the model, the loss, the optimizer and honest evaluation. The same set-up then "
        "becomes a small laboratory for comparing simple regularization methods. Later "
        "chapters (scaling laws, training at scale, contrastive learning, interpretability, "
        "adversarial training) reuse this network family."
    ),
    recommended=(
        R(
            title="Deep Learning with PyTorch: A 60 Minute Blitz",
            authors="Soumith Chintala",
            year=2017,
            url="https://pytorch.org/tutorials/beginner/deep_learning_60min_blitz.html",
            section="all",
            why="The shortest route to tensors, autograd, nn.Module and a working training "
            "loop in PyTorch.",
        ),
        R(
            title="CS231n: Convolutional Neural Networks (course notes)",
            authors="Andrej Karpathy et al. (Stanford CS231n)",
            year=2015,
            url="https://cs231n.github.io/convolutional-networks/",
            section="the sections on convolutional and pooling layers and on architectures",
            why="Explains what a convolution computes, how output shapes follow from kernel, "
            "stride and padding, and how layers are stacked into a small classifier.",
        ),
        R(
            title="CS231n: Neural Networks Part 2, Setting up the Data and the Loss",
            authors="Andrej Karpathy et al. (Stanford CS231n)",
            year=2015,
            url="https://cs231n.github.io/neural-networks-2/",
            section="the regularization section",
            why="A compact catalogue of L2 weight decay, dropout and related methods to "
            "try in the regularization experiments.",
        ),
    ),
    optional=(
        R(
            title="Neural Networks and Deep Learning",
            authors="Michael Nielsen",
            year=2015,
            url="http://neuralnetworksanddeeplearning.com/",
            section="chapters 1-3",
            why="A theory-minded online book that derives backpropagation and has good "
            "exercises, including MNIST from scratch.",
        ),
        R(
            title="Neural networks (video series)",
            authors="Grant Sanderson (3Blue1Brown)",
            year=2017,
            url="https://www.3blue1brown.com/topics/neural-networks",
            section="all",
            why="Builds visual intuition for what a network and gradient descent are doing.",
        ),
        R(
            title="Machine Learning (Coursera)",
            authors="Andrew Ng",
            year=2011,
            url="https://www.coursera.org/learn/machine-learning",
            section="as needed",
            why="A lecture course covering the standard vocabulary of supervised learning, "
            "overfitting and regularization.",
        ),
        R(
            title="Practical Deep Learning for Coders",
            authors="Jeremy Howard, Sylvain Gugger",
            year=2020,
            url="https://course.fast.ai/",
            section="as needed",
            why="A hands-on course that gets you training real models quickly.",
        ),
        R(
            title="The MNIST database of handwritten digits",
            authors="Yann LeCun, Corinna Cortes, Christopher J. C. Burges",
            year=1998,
            url="http://yann.lecun.com/exdb/mnist/",
            section="the description of the data and the table of results",
            why="The dataset itself: 60k training and 10k test images of 28x28 digits, with "
            "historical error rates to compare against.",
        ),
    ),
    exercises=(
        Exercise(
            title="A three-layer CNN that reaches 99% on MNIST",
            description=(
                "Write the data pipeline, a small convolutional network (for example two "
                "convolutional layers and one linear layer), the training loop and the "
                "evaluation yourself in PyTorch, and train it until it classifies about 99% "
                "of the MNIST test digits correctly. Keep a validation split for decisions so "
                "that the test set is only used to report the final number."
            ),
            success_criteria=(
                "test accuracy on the 10,000 MNIST test images is at least 99.0%",
                "the network has three weight layers (convolutional or linear) and is "
                "trained from scratch",
                "hyperparameters are chosen on a validation split, not on the test set",
                "training loss and validation accuracy are logged over training and the "
                "loss decreases",
            ),
        ),
        Exercise(
            title="Experiments with simple regularization",
            description=(
                "Reuse the set-up to measure what regularization buys: train a baseline and "
                "variants with dropout, weight decay, data augmentation (small shifts and "
                "rotations) and early stopping, on the full training set and on a small "
                "subset (5,000 images) where overfitting is easy to see. Use the same seeds "
                "for every variant and compare test accuracy and the train/test gap."
            ),
            success_criteria=(
                "baseline, dropout, weight decay, augmentation and early stopping are each "
                "trained on the full data and on a 5,000-image subset with the same seeds",
                "a table reports test accuracy and the train-test gap for every method and "
                "data size",
                "on the 5,000-image subset at least one method beats the baseline's test accuracy",
                "the write-up says where regularization helped most and why (expected: the "
                "small subset)",
            ),
        ),
    ),
    time="2-4 days",
    experiments=(
        Experiment(
            name="mnist",
            chapter=0,
            module="dlcurriculum.ch00_mnist.experiments",
            attr="MNIST",
            summary="3-layer CNN to 99% test accuracy",
        ),
        Experiment(
            name="regularization",
            chapter=0,
            module="dlcurriculum.ch00_mnist.regularization",
            attr="REGULARIZATION",
            summary="dropout, weight decay, augmentation, early stopping vs baseline",
        ),
    ),
)

_CH01 = Chapter(
    number=1,
    slug="ch01_transformers",
    title="Transformers",
    summary=(
        "The transformer is the architecture behind today's language models, and this "
        "chapter has you build a decoder-only one from its parts: embeddings, positional "
        "information, causally masked multi-head attention, MLPs, residual connections and "
        "layer normalization. Small mistakes here are easy to make and hard to notice, so "
        "each piece is checked on its own and the mask is tested on a toy task whose answer "
        "is known. The finished model is trained as a word-level language model on the "
        "complete works of Shakespeare. Chapters 2, 3, 7, 8 and 9 build on this model."
    ),
    recommended=(
        R(
            title="Attention Is All You Need",
            authors="Ashish Vaswani et al.",
            year=2017,
            url="https://arxiv.org/abs/1706.03762",
            section="section 3 (model architecture); the encoder matters less, since "
            "language models are usually decoder-only",
            why="The original description of scaled dot-product attention, multi-head "
            "attention and the transformer block.",
        ),
    ),
    optional=(
        R(
            title="The Illustrated Transformer",
            authors="Jay Alammar",
            year=2018,
            url="https://jalammar.github.io/illustrated-transformer/",
            section="all",
            why="A gentle, picture-heavy walk through the same architecture if the paper "
            "feels dense.",
        ),
        R(
            title="The Annotated Transformer",
            authors="Alexander Rush",
            year=2018,
            url="http://nlp.seas.harvard.edu/2018/04/03/attention.html",
            section="as a reference when stuck",
            why="The paper interleaved with working code; useful to compare against, not to copy.",
        ),
        R(
            title="Language Models are Few-Shot Learners (GPT-3)",
            authors="Tom B. Brown et al.",
            year=2020,
            url="https://arxiv.org/abs/2005.14165",
            section="sections 1-2",
            why="Shows what a very large decoder-only transformer can do, including learning "
            "tasks from examples in its prompt.",
        ),
        R(
            title="The Transformer Family",
            authors="Lilian Weng",
            year=2020,
            url="https://lilianweng.github.io/posts/2020-04-07-the-transformer-family/",
            section="skim",
            why="A survey of variants (Transformer-XL, sparse and efficient attention, "
            "Universal Transformer) and the problems each addresses.",
        ),
        R(
            title="Exploring the Limits of Transfer Learning with a Unified Text-to-Text "
            "Transformer (T5)",
            authors="Colin Raffel et al.",
            year=2019,
            url="https://arxiv.org/abs/1910.10683",
            section="section 3",
            why="A careful ablation study of architectural choices and training objectives.",
        ),
        R(
            title="Outrageously Large Neural Networks: The Sparsely-Gated Mixture-of-Experts Layer",
            authors="Noam Shazeer et al.",
            year=2017,
            url="https://arxiv.org/abs/1701.06538",
            section="section 2",
            why="Explains mixture-of-experts layers, a form of parameter sparsity used to "
            "make large models cheaper to train.",
        ),
    ),
    exercises=(
        Exercise(
            title="A decoder-only transformer language model from scratch",
            description=(
                "First answer some first-principles questions in writing: how transformers "
                "handle time and recurrence compared with an LSTM, the shapes of Q, K and V "
                "and why attention is scaled, whether each block has its own dense layers, "
                "and what the residual connections are for. Then implement, in order, the "
                "positional embedding, attention given Q, K and V, the causal mask, a full "
                "attention block and the whole model, checking each part carefully. Verify "
                "the mask on a toy task (reversing a random sequence of tokens: only the "
                "second half is predictable) and finally train the model on the complete "
                "works of Shakespeare, tokenized by splitting at word boundaries with "
                're.split(r"\\b", ...) and cut into non-overlapping training sequences.'
            ),
            success_criteria=(
                "written answers to the four first-principles questions",
                "attention with the causal mask matches a trusted implementation (e.g. "
                "torch's scaled_dot_product_attention with is_causal=True) to float tolerance",
                "changing the token at position t leaves the logits at positions before t "
                "unchanged",
                "on sequence reversal, accuracy on the second half approaches 100% while the "
                "first half stays near chance",
                "on Shakespeare (word-level, non-overlapping sequences) validation loss falls "
                "well below a unigram baseline and samples look recognisably Shakespearean",
            ),
        ),
    ),
    time="1-2 weeks",
    experiments=(
        Experiment(
            name="reverse",
            chapter=1,
            module="dlcurriculum.ch01_transformers.experiments",
            attr="REVERSE",
            summary="reverse random sequences: the second half learned, the first at chance",
        ),
        Experiment(
            name="shakespeare",
            chapter=1,
            module="dlcurriculum.ch01_transformers.experiments",
            attr="SHAKESPEARE",
            summary="a word-level language model of Shakespeare vs a unigram baseline",
        ),
    ),
)

_CH02 = Chapter(
    number=2,
    slug="ch02_scaling_laws",
    title="Scaling laws",
    summary=(
        "How a network's loss changes as we scale its size, its data and its compute turns "
        "out to be remarkably regular: over many orders of magnitude it follows power laws. "
        "Measuring these trends lets us draw conclusions that carry over to larger models "
        "instead of ones that hold only at the scale we happened to test. The chapter's "
        "exercise reproduces this kind of study in miniature, on MNIST, by sweeping model "
        "width and dataset size and reading off the compute-efficient frontier. It also "
        "shows how sensitive measured exponents are to choices such as learning-rate tuning "
        "and regularization."
    ),
    recommended=(
        R(
            title="Scaling Laws for Neural Language Models",
            authors="Jared Kaplan et al.",
            year=2020,
            url="https://arxiv.org/abs/2001.08361",
            section="section 1 (summary of the main results)",
            why="The power laws in parameters, data and compute, and what they imply for "
            "the compute-optimal model size.",
        ),
    ),
    optional=(
        R(
            title="Scaling Laws for Autoregressive Generative Modeling",
            authors="Tom Henighan et al.",
            year=2020,
            url="https://arxiv.org/abs/2010.14701",
            section="sections 1-2",
            why="Scaling across images, video, math and multimodal data, and the idea of an "
            "irreducible loss that a power law approaches.",
        ),
        R(
            title="Scaling Laws for Transfer",
            authors="Danny Hernandez, Jared Kaplan, Tom Henighan, Sam McCandlish",
            year=2021,
            url="https://arxiv.org/abs/2102.01293",
            section="sections 1-2",
            why="With little fine-tuning data, pre-training on English acts like a multiplier "
            "on the amount of Python data.",
        ),
        R(
            title="Unified Scaling Laws for Routed Language Models",
            authors="Aidan Clark et al.",
            year=2022,
            url="https://arxiv.org/abs/2202.01169",
            section="skim",
            why="Extends scaling laws to mixture-of-experts models, where parameters and "
            "compute per token come apart.",
        ),
        R(
            title="Scaling Scaling Laws with Board Games",
            authors="Andy L. Jones",
            year=2021,
            url="https://arxiv.org/abs/2104.03113",
            section="skim",
            why="Scaling laws for AlphaZero on Hex, including a trade-off between training "
            "and test-time compute.",
        ),
        R(
            title="Training Compute-Optimal Large Language Models (Chinchilla)",
            authors="Jordan Hoffmann et al.",
            year=2022,
            url="https://arxiv.org/abs/2203.15556",
            section="sections 1-3",
            why="Revises the compute-optimal allocation (parameters and tokens should grow "
            "together) after tuning the learning-rate schedule for each token budget, a "
            "lesson in how hyperparameters bias measured exponents.",
        ),
        R(
            title="The Bitter Lesson",
            authors="Rich Sutton",
            year=2019,
            url="http://www.incompleteideas.net/IncIdeas/BitterLesson.html",
            section="all (short essay)",
            why="An opinionated argument that general methods that exploit scale win in the "
            "long run.",
        ),
    ),
    exercises=(
        Exercise(
            title="A scaling-law study of MNIST",
            description=(
                "Take a small MNIST CNN (for example the prerequisite's) and train it for a "
                "single epoch while varying model width by factors of sqrt(2), so that "
                "compute per forward pass doubles at each step, and the fraction of training "
                "data by factors of 2 (1, 1/2, 1/4, ...). Average over a few seeds and always "
                "evaluate on the full validation set. Scale the learning rate with model "
                "size, either by tuning it per width or with the rule of thumb that Adam's "
                "learning rate should follow the initialization scale 1/sqrt(fan_in). Plot "
                "validation loss against training compute on log axes, fit the "
                "compute-efficient frontier, look at how accuracy behaves, estimate how the "
                "compute-optimal model size grows with compute, and repeat everything with "
                "20% dropout to see how the exponents move."
            ),
            success_criteria=(
                "a grid of widths (steps of sqrt(2)) by data fractions (steps of 2), each "
                "trained for one epoch with at least two seeds, evaluated on the full "
                "validation set",
                "the learning rate is tuned per width or scaled as 1/sqrt(fan_in)",
                "training FLOPs per run are computed (and agree with a FLOP counter)",
                "a log-log plot of validation loss against compute whose frontier is fitted "
                "by a power law, with the exponent reported",
                "the exponent of compute-optimal model size against compute is estimated with "
                "an uncertainty",
                "the sweep is repeated with 20% dropout and the two sets of exponents are compared",
            ),
        ),
    ),
    time="1 week",
    experiments=(
        Experiment(
            name="scaling",
            chapter=2,
            module="dlcurriculum.ch02_scaling_laws.experiments",
            attr="SCALING",
            summary="MNIST CNN scaling study: loss-vs-compute frontier, power-law fits, "
            "compute-optimal size, with and without 20% dropout",
        ),
    ),
)

_CH03 = Chapter(
    number=3,
    slug="ch03_training_at_scale",
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
        R(
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
        R(
            title="Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM",
            authors="Deepak Narayanan et al.",
            year=2021,
            url="https://arxiv.org/abs/2104.04473",
            section="sections 2-3",
            why="A detailed analysis of how to combine tensor, pipeline and data parallelism "
            "efficiently.",
        ),
        R(
            title="ZeRO: Memory Optimizations Toward Training Trillion Parameter Models",
            authors="Samyam Rajbhandari, Jeff Rasley, Olatunji Ruwase, Yuxiong He",
            year=2019,
            url="https://arxiv.org/abs/1910.02054",
            section="sections 1-5",
            why="Shards optimizer state, gradients and parameters across data-parallel "
            "workers, trading extra communication for memory.",
        ),
        R(
            title="Mixed Precision Training",
            authors="Paulius Micikevicius et al.",
            year=2017,
            url="https://arxiv.org/abs/1710.03740",
            section="section 3",
            why="The standard half-precision recipe: an fp32 master copy of the weights and "
            "loss scaling to avoid gradient underflow.",
        ),
        R(
            title="MPI Tutorial",
            authors="Wes Kendall",
            year=2011,
            url="http://mpitutorial.com/tutorials",
            section="the tutorials after 'Introduction and MPI installation'",
            why="Point-to-point and collective message passing (broadcast, reduce, "
            "allreduce), the building blocks of data parallelism.",
        ),
        R(
            title="Triton tutorial: Vector Addition",
            authors="Philippe Tillet (OpenAI)",
            year=2021,
            url="https://triton-lang.org/master/getting-started/tutorials/01-vector-add.html",
            section="all",
            why="The first steps of writing GPU kernels in Python with Triton, needed for the "
            "fused-Adam alternative.",
        ),
        R(
            title="Adam: A Method for Stochastic Optimization",
            authors="Diederik P. Kingma, Jimmy Ba",
            year=2014,
            url="https://arxiv.org/abs/1412.6980",
            section="algorithm 1",
            why="The update rule that the fused-Adam alternative implements in one kernel.",
        ),
    ),
    exercises=(
        Exercise(
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
        Exercise(
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
            chapter=3,
            module="dlcurriculum.ch03_training_at_scale.experiments",
            attr="DP_MNIST_SPEC",
            summary="data-parallel MNIST CNN from scratch: 1 vs 2 processes (gloo or MPI)",
        ),
        Experiment(
            name="dp-transformer",
            chapter=3,
            module="dlcurriculum.ch03_training_at_scale.experiments",
            attr="DP_TRANSFORMER_SPEC",
            summary="data-parallel transformer vs 1 process and DDP; ZeRO-1 option",
        ),
        Experiment(
            name="pipeline",
            chapter=3,
            module="dlcurriculum.ch03_training_at_scale.experiments",
            attr="PIPELINE_SPEC",
            summary="GPipe pipeline parallelism over 2 stages of the transformer",
        ),
        Experiment(
            name="tensor-parallel",
            chapter=3,
            module="dlcurriculum.ch03_training_at_scale.experiments",
            attr="TENSOR_PARALLEL_SPEC",
            summary="Megatron tensor parallelism: heads and MLP split across ranks",
        ),
    ),
)

_CH04 = Chapter(
    number=4,
    slug="ch04_optimization",
    title="Optimization",
    summary=(
        "Intuition for how SGD and its variants behave pays off constantly in practice, and "
        "a few simple theoretical pictures explain a surprising amount. The central one here "
        "is the critical batch size: below it, doubling the batch halves the number of steps "
        "needed, and above it the returns diminish. The noisy quadratic model, a "
        "second-order Taylor expansion of the loss with noisy gradients, reproduces this and "
        "shows how momentum and preconditioning (as in Adam) change it. The exercise builds "
        "that model and studies learning rates and batch sizes in it."
    ),
    recommended=(
        R(
            title="An Empirical Model of Large-Batch Training",
            authors="Sam McCandlish, Jared Kaplan, Dario Amodei, OpenAI Dota Team",
            year=2018,
            url="https://arxiv.org/abs/1812.06162",
            section="section 2 (the theoretical picture)",
            why="Derives the critical batch size from the gradient noise scale and the "
            "steps-versus-examples trade-off.",
        ),
    ),
    optional=(
        R(
            title="Which Algorithmic Choices Matter at Which Batch Sizes? Insights From a "
            "Noisy Quadratic Model",
            authors="Guodong Zhang et al.",
            year=2019,
            url="https://arxiv.org/abs/1907.04164",
            section="sections 2-4",
            why="The noisy quadratic model used in the exercise, and how curvature and "
            "preconditioning move the critical batch size.",
        ),
        R(
            title="Adam: A Method for Stochastic Optimization",
            authors="Diederik P. Kingma, Jimmy Ba",
            year=2014,
            url="https://arxiv.org/abs/1412.6980",
            section="sections 1-3",
            why="The most widely used optimizer; worth knowing its update rule and how it "
            "adapts to the signal-to-noise ratio of each coordinate.",
        ),
        R(
            title="Does batch size matter?",
            authors="Jane Street Tech Blog",
            year=2022,
            url="https://blog.janestreet.com/does-batch-size-matter/",
            section="all",
            why="Intuition for SGD below the critical batch size, where learning rate over "
            "batch size acts like a temperature.",
        ),
        R(
            title="Gradient Descent on Neural Networks Typically Occurs at the Edge of Stability",
            authors="Jeremy M. Cohen et al.",
            year=2021,
            url="https://arxiv.org/abs/2103.00065",
            section="sections 1-3",
            why="Training pushes the Hessian's top eigenvalue to 2/lr, a dynamic that a "
            "model with a fixed Hessian such as the NQM cannot capture.",
        ),
        R(
            title="Neural Tangent Kernel: Convergence and Generalization in Neural Networks",
            authors="Arthur Jacot, Franck Gabriel, Clément Hongler",
            year=2018,
            url="https://arxiv.org/abs/1806.07572",
            section="sections 1-4",
            why="The infinite-width limit in which training is linear in the parameters; "
            "other parameterizations give limits that keep feature learning.",
        ),
        R(
            title="Deep Double Descent",
            authors="Preetum Nakkiran et al.",
            year=2019,
            url="https://openai.com/blog/deep-double-descent/",
            section="all",
            why="Test error can rise and fall again as model size or training time grows, "
            "revising the classical bias-variance picture.",
        ),
        R(
            title="The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks",
            authors="Jonathan Frankle, Michael Carbin",
            year=2018,
            url="https://arxiv.org/abs/1803.03635",
            section="sections 1-2",
            why="A counterintuitive pruning result: small subnetworks, reset to their "
            "initial weights, can train as well as the full network.",
        ),
    ),
    exercises=(
        Exercise(
            title="Noisy quadratic model experiments",
            description=(
                "Build the noisy quadratic model testbed with diagonal Hessian and diagonal "
                "gradient covariance, both with entries 1, 1/2, 1/3, ... (the paper goes to "
                "dimension 10^4; 10^3 is fine if runs are slow), and implement SGD with "
                "momentum and Adam on it. Add a way to optimize learning-rate schedules, "
                "either by dynamic programming on the expected-loss recursion or with a "
                "simpler black-box search over a small schedule family. Check that at small "
                "batch sizes the best learning rate grows linearly with batch size for SGD "
                "and like its square root for Adam, then measure how the number of steps to "
                "reach a target loss depends on batch size and how momentum and Adam change "
                "that curve."
            ),
            success_criteria=(
                "the closed-form expected loss of the NQM agrees with a Monte Carlo average "
                "of simulated runs",
                "SGD with momentum and Adam are implemented and agree with torch.optim on "
                "the same inputs",
                "a learning-rate (schedule) optimizer, by dynamic programming or black-box search",
                "at small batch sizes the fitted log-log slope of optimal learning rate "
                "against batch size is close to 1 for SGD and close to 0.5 for Adam",
                "a plot of steps-to-target-loss against batch size shows perfect scaling "
                "at small batches, diminishing returns past a critical batch size, and how "
                "momentum and Adam move that point",
            ),
        ),
    ),
    time="1 week",
    experiments=(
        Experiment(
            name="nqm",
            chapter=4,
            module="dlcurriculum.ch04_optimization.experiments",
            attr="NQM",
            summary="Noisy quadratic model: exact vs simulated dynamics, optimal LR vs batch "
            "size, steps to target and critical batch sizes",
        ),
    ),
)

_CH05 = Chapter(
    number=5,
    slug="ch05_modeling_objectives",
    title="Modeling objectives",
    summary=(
        "Language models are trained by maximum likelihood, but other objectives matter for "
        "learning representations and generating images: contrastive losses, variational "
        "autoencoders, GANs and diffusion models. This chapter is there for breadth and can "
        "be skipped by those focusing on language models. The exercise trains an MNIST "
        "encoder with a contrastive objective only and then checks how well its embeddings "
        "separate the classes using a handful of labelled examples."
    ),
    recommended=(
        R(
            title="Contrastive Representation Learning",
            authors="Lilian Weng",
            year=2021,
            url="https://lilianweng.github.io/posts/2021-05-31-contrastive/",
            section="the first section, 'Contrastive Training Objectives'",
            why="The family of contrastive losses (contrastive, triplet, N-pair, InfoNCE and "
            "relatives) and how positives and negatives are chosen.",
        ),
    ),
    optional=(
        R(
            title="CLIP: Connecting Text and Images",
            authors="Alec Radford et al. (OpenAI)",
            year=2021,
            url="https://openai.com/blog/clip/",
            section="all",
            why="A contrastive image-text model whose embeddings support zero-shot classification.",
        ),
        R(
            title="What are Diffusion Models?",
            authors="Lilian Weng",
            year=2021,
            url="https://lilianweng.github.io/posts/2021-07-11-diffusion-models/",
            section="the first sections",
            why="The denoising objective that powers image generators such as DALL-E 2.",
        ),
        R(
            title="Tutorial on Variational Autoencoders",
            authors="Carl Doersch",
            year=2016,
            url="https://arxiv.org/abs/1606.05908",
            section="sections 1-2",
            why="Latent-variable models with an encoder and a decoder trained through the "
            "evidence lower bound.",
        ),
        R(
            title="From Autoencoder to Beta-VAE",
            authors="Lilian Weng",
            year=2018,
            url="https://lilianweng.github.io/posts/2018-08-12-vae/",
            section="skim",
            why="A tour of VAE variants, including the discrete VQ-VAE.",
        ),
        R(
            title="NIPS 2016 Tutorial: Generative Adversarial Networks",
            authors="Ian Goodfellow",
            year=2016,
            url="https://arxiv.org/abs/1701.00160",
            section="sections 1-3",
            why="The adversarial generator-discriminator objective, an older route to image "
            "generation.",
        ),
    ),
    exercises=(
        Exercise(
            title="A contrastive CNN on MNIST",
            description=(
                "Train a CNN encoder on MNIST with a contrastive objective of your choice "
                "(for example InfoNCE over augmented views, or pairs of same-class images). "
                "Set aside a few labelled examples of each class from the training set. "
                "After training, classify each test image by comparing its embedding with "
                "the held-out examples and choosing the class whose examples are most "
                "similar on average, and report the resulting accuracy."
            ),
            success_criteria=(
                "the encoder is trained only with a contrastive loss (no classification "
                "head and no cross-entropy on labels)",
                "a few held-out examples per class (e.g. 5-10) are excluded from training",
                "test images are classified by highest average similarity to each class's "
                "held-out examples",
                "the resulting test accuracy is reported and is far above the 10% chance "
                "level (expect above 90%)",
            ),
        ),
    ),
    time="3-5 days",
    experiments=(
        Experiment(
            name="contrastive",
            chapter=5,
            module="dlcurriculum.ch05_modeling_objectives.experiments",
            attr="CONTRASTIVE",
            summary="SimCLR, SupCon and triplet MNIST encoders judged by few-shot similarity",
        ),
        Experiment(
            name="vae",
            chapter=5,
            module="dlcurriculum.ch05_modeling_objectives.generative",
            attr="VAE_SPEC",
            summary="extra: a VAE on MNIST (ELBO terms, prior samples judged by a small CNN)",
        ),
        Experiment(
            name="ddpm",
            chapter=5,
            module="dlcurriculum.ch05_modeling_objectives.generative",
            attr="DDPM_SPEC",
            summary="extra: a minimal DDPM on MNIST (forward noising, ancestral sampling, judged)",
        ),
    ),
)

_CH06 = Chapter(
    number=6,
    slug="ch06_reinforcement_learning",
    title="Reinforcement learning",
    summary=(
        "Reinforcement learning is learning from trial and error: an agent acts, receives "
        "rewards and improves its policy to collect more of them. Policy-gradient methods, "
        "and PPO in particular, are popular because they are simple and forgiving to tune, "
        "and PPO is the algorithm behind RLHF in chapter 7. The exercise implements PPO and "
        "trains it on Procgen games, and most of the craft lies in the diagnostics that "
        "reveal bugs: clip fraction, approximate KL, entropy and explained variance. "
        "Together with chapter 1 this is one of the two most important chapters."
    ),
    recommended=(
        R(
            title="Spinning Up in Deep RL: Introduction to RL",
            authors="Joshua Achiam (OpenAI)",
            year=2018,
            url="https://spinningup.openai.com/en/latest/spinningup/rl_intro.html",
            section="parts 1-3 of the introduction (key concepts, kinds of algorithms, "
            "policy optimization)",
            why="The core vocabulary (policies, returns, value functions, advantages) and a "
            "clean derivation of the policy gradient.",
        ),
    ),
    optional=(
        R(
            title="Reinforcement Learning: An Introduction (2nd edition)",
            authors="Richard S. Sutton, Andrew G. Barto",
            year=2018,
            url="http://www.incompleteideas.net/book/RLbook2020.pdf",
            section="chapter 3 (MDPs and Bellman equations) and chapter 13 (policy gradient "
            "methods)",
            why="The standard formalism of Markov decision processes and value functions.",
        ),
        R(
            title="Proximal Policy Optimization Algorithms",
            authors="John Schulman, Filip Wolski, Prafulla Dhariwal, Alec Radford, Oleg Klimov",
            year=2017,
            url="https://arxiv.org/abs/1707.06347",
            section="sections 1-5",
            why="PPO: a policy gradient with a learned value baseline, an entropy bonus and a "
            "clipped objective that acts like a KL penalty on each update.",
        ),
        R(
            title="High-Dimensional Continuous Control Using Generalized Advantage Estimation",
            authors="John Schulman, Philipp Moritz, Sergey Levine, Michael Jordan, Pieter Abbeel",
            year=2015,
            url="https://arxiv.org/abs/1506.02438",
            section="sections 1-3",
            why="GAE, the advantage estimator almost always paired with PPO, and its "
            "bias-variance knob lambda.",
        ),
        R(
            title="Batch size-invariance for policy optimization (PPO-EWMA)",
            authors="Jacob Hilton, Karl Cobbe, John Schulman",
            year=2021,
            url="https://arxiv.org/abs/2110.00641",
            section="sections 1-4",
            why="Helps explain why PPO's clipping works, by separating the proximal policy "
            "from the behaviour policy.",
        ),
        R(
            title="Phasic Policy Gradient",
            authors="Karl Cobbe, Jacob Hilton, Oleg Klimov, John Schulman",
            year=2020,
            url="https://arxiv.org/abs/2009.04416",
            section="sections 1-3",
            why="Sharing a network between policy and value helps visual RL but causes "
            "interference; training in phases reduces it.",
        ),
        R(
            title="Playing Atari with Deep Reinforcement Learning (DQN)",
            authors="Volodymyr Mnih et al.",
            year=2013,
            url="https://arxiv.org/abs/1312.5602",
            section="sections 1-4",
            why="Value-based, off-policy RL with Q-learning, the main alternative family to "
            "policy gradients.",
        ),
        R(
            title="Rainbow: Combining Improvements in Deep Reinforcement Learning",
            authors="Matteo Hessel et al.",
            year=2017,
            url="https://arxiv.org/abs/1710.02298",
            section="skim",
            why="How several separate improvements to DQN combine.",
        ),
        R(
            title="Equivalence Between Policy Gradients and Soft Q-Learning",
            authors="John Schulman, Xi Chen, Pieter Abbeel",
            year=2017,
            url="https://arxiv.org/abs/1704.06440",
            section="sections 1-3",
            why="A theoretical bridge between policy-based and value-based methods under "
            "entropy regularization.",
        ),
        R(
            title="Mastering Chess and Shogi by Self-Play with a General Reinforcement "
            "Learning Algorithm (AlphaZero)",
            authors="David Silver et al.",
            year=2017,
            url="https://arxiv.org/abs/1712.01815",
            section="skim",
            why="Policy and value networks combined with Monte Carlo tree search to master "
            "board games.",
        ),
        R(
            title="Mastering Atari, Go, Chess and Shogi by Planning with a Learned Model (MuZero)",
            authors="Julian Schrittwieser et al.",
            year=2019,
            url="https://arxiv.org/abs/1911.08265",
            section="skim",
            why="A model-based successor to AlphaZero that plans with a learned model; "
            "model-based methods can be far more sample-efficient.",
        ),
        R(
            title="Leveraging Procedural Generation to Benchmark Reinforcement Learning (Procgen)",
            authors="Karl Cobbe, Christopher Hesse, Jacob Hilton, John Schulman",
            year=2019,
            url="https://arxiv.org/abs/1912.01588",
            section="the PPO hyperparameter table in the appendix",
            why="The environments of the exercise and the PPO hyperparameters to start from.",
        ),
        R(
            title="A Closer Look at Deep Policy Gradients",
            authors="Andrew Ilyas et al.",
            year=2018,
            url="https://arxiv.org/pdf/1811.02553v3.pdf",
            section="section 9.3 (reward normalization pseudocode)",
            why="How to normalize rewards with a running estimate of the return's scale.",
        ),
        R(
            title="Approximating KL Divergence",
            authors="John Schulman",
            year=2020,
            url="http://joschu.net/blog/kl-approx.html",
            section="all",
            why="Why simple sample-based estimators of KL, such as half the mean squared "
            "log-ratio, are good diagnostics.",
        ),
    ),
    exercises=(
        Exercise(
            title="PPO on Procgen",
            description=(
                "Implement PPO and train it on Procgen in easy mode, which fits on one GPU "
                "without data parallelism. This is hard to get right, so first get it "
                "working on a simple Gym environment such as CartPole. Start from the Procgen "
                "paper's hyperparameters and tune mainly the learning rate for your own "
                "network. Use both reward normalization and advantage normalization, and "
                "plot the diagnostics that expose bugs: the fraction of clipped ratios, the "
                "approximate KL to the old policy (mean of half the squared log-ratio of the "
                "sampled action), policy entropy, the value function's explained variance, "
                "and the mean and standard deviation used to normalize advantages."
            ),
            success_criteria=(
                "on CartPole-v1 the agent reaches an average return of at least 475",
                "reward normalization (running return scale) and per-batch advantage "
                "normalization are both used",
                "the logged fraction of clipped ratios stays between about 1% and 20%",
                "approximate KL stays stable, without spikes or collapse",
                "policy entropy falls gradually rather than collapsing",
                "value explained variance rises above 0 early and stays positive",
                "the advantage-normalization mean stays close to 0 and the std is stable",
                "on a Procgen game in easy mode the mean episode return clearly rises over "
                "training, approaching the paper's curves at its budget",
            ),
        ),
    ),
    time="2 weeks",
    experiments=(
        Experiment(
            name="ppo-cartpole",
            chapter=6,
            module="dlcurriculum.ch06_reinforcement_learning.experiments",
            attr="PPO_CARTPOLE",
            summary="PPO from scratch on CartPole-v1: 5 seeds to return 475, with the diagnostics",
        ),
        Experiment(
            name="ppo-procgen",
            chapter=6,
            module="dlcurriculum.ch06_reinforcement_learning.experiments",
            attr="PPO_PROCGEN",
            summary="PPO with the IMPALA CNN on Procgen easy mode vs a random policy "
            "(--set env=GAME)",
        ),
    ),
)

_CH07 = Chapter(
    number=7,
    slug="ch07_alignment",
    title="Alignment",
    summary=(
        "Alignment is the problem of getting models to use their capabilities the way we "
        "intend. The main practical technique today is reinforcement learning from human "
        "feedback (RLHF): learn a reward model from human judgements, then optimize a policy "
        "against it while staying close to the original model. The readings also cover why "
        "this may not scale to tasks humans cannot evaluate (amplification, recursive reward "
        "modeling, debate), failures of outer and inner alignment, and the theoretical "
        "problem of eliciting latent knowledge. The chapter has a practical RLHF exercise on "
        "the Shakespeare model and a theoretical exercise on ELK; do either or both."
    ),
    recommended=(
        R(
            title="Deep Reinforcement Learning from Human Preferences",
            authors="Paul Christiano, Jan Leike, Tom B. Brown, Miljan Martic, Shane Legg, "
            "Dario Amodei",
            year=2017,
            url="https://arxiv.org/abs/1706.03741",
            section="sections 1-3",
            why="The paper that introduced RLHF: fit a reward model to human comparisons and "
            "optimize a policy against it.",
        ),
    ),
    optional=(
        R(
            title="Learning to Summarize with Human Feedback",
            authors="Nisan Stiennon et al.",
            year=2020,
            url="https://openai.com/blog/learning-to-summarize-with-human-feedback/",
            section="all",
            why="The first major application of RLHF to language models, including the KL "
            "penalty and reward-model overoptimization.",
        ),
        R(
            title="Aligning Language Models to Follow Instructions (InstructGPT)",
            authors="Long Ouyang et al.",
            year=2022,
            url="https://openai.com/blog/instruction-following/",
            section="all",
            why="RLHF applied to GPT-3 to make it follow instructions.",
        ),
        R(
            title="Learning Complex Goals with Iterated Amplification",
            authors="Paul Christiano, Dario Amodei",
            year=2018,
            url="https://openai.com/blog/amplifying-ai-training/",
            section="all",
            why="Scaling oversight beyond what humans can judge directly by decomposing "
            "tasks; the supervised version is also called imitative amplification or HCH.",
        ),
        R(
            title="Scalable agent alignment via reward modeling",
            authors="Jan Leike et al.",
            year=2018,
            url="https://deepmindsafetyresearch.medium.com/"
            "scalable-agent-alignment-via-reward-modeling-bf4ab06dfd84",
            section="all",
            why="Recursive reward modeling: AI assistants help humans evaluate, like "
            "amplification but with RL as the distillation step.",
        ),
        R(
            title="Summarizing Books with Human Feedback",
            authors="Jeff Wu et al.",
            year=2021,
            url="https://openai.com/blog/summarizing-books/",
            section="all",
            why="Task decomposition combined with RLHF, a simple instance of amplification.",
        ),
        R(
            title="AI Safety via Debate",
            authors="Geoffrey Irving, Paul Christiano, Dario Amodei",
            year=2018,
            url="https://openai.com/blog/debate/",
            section="all",
            why="Two AIs argue and a human judges, another proposal for supervising tasks "
            "too hard to evaluate directly.",
        ),
        R(
            title="Debate update: Obfuscated arguments problem",
            authors="Beth Barnes, Paul Christiano",
            year=2020,
            url="https://www.alignmentforum.org/posts/PJLABqQ962hZEqhdB/"
            "debate-update-obfuscated-arguments-problem",
            section="all",
            why="A potential obstruction to debate found in experiments with human debaters.",
        ),
        R(
            title="AI-Written Critiques Help Humans Notice Flaws",
            authors="William Saunders et al.",
            year=2022,
            url="https://openai.com/blog/critiques/",
            section="all",
            why="Model-written critiques help humans find flaws in summaries, a one-step "
            "version of assisted evaluation.",
        ),
        R(
            title="Specification gaming: the flip side of AI ingenuity",
            authors="Victoria Krakovna et al.",
            year=2020,
            url="https://www.deepmind.com/blog/specification-gaming-the-flip-side-of-ai-ingenuity",
            section="all",
            why="Examples of systems exploiting misspecified objectives, the outer-alignment "
            "problem.",
        ),
        R(
            title="Goal Misgeneralization in Deep Reinforcement Learning",
            authors="Lauro Langosco et al.",
            year=2021,
            url="https://arxiv.org/abs/2105.14111",
            section="sections 1-3",
            why="Agents competently pursue the wrong goal after distribution shift even with "
            "a correct training objective, an inner-alignment failure.",
        ),
        R(
            title="Risks from Learned Optimization in Advanced Machine Learning Systems",
            authors="Evan Hubinger, Chris van Merwijk, Vladimir Mikulik, Joar Skalse, "
            "Scott Garrabrant",
            year=2019,
            url="https://arxiv.org/abs/1906.01820",
            section="sections 1-4",
            why="The in-depth treatment of inner alignment and mesa-optimization.",
        ),
        R(
            title="AGI Safety Fundamentals curriculum",
            authors="Richard Ngo",
            year=2022,
            url="https://docs.google.com/document/d/"
            "1mTm_sT2YQx3mRXQD6J2xD2QJG1c3kHyvX8kQc_IQ0ns/edit",
            section="as a map of further reading",
            why="A longer alignment curriculum that expands on this chapter.",
        ),
        R(
            title="Without specific countermeasures, the easiest path to transformative AI "
            "likely leads to AI takeover",
            authors="Ajeya Cotra",
            year=2022,
            url="https://www.alignmentforum.org/posts/pRkFkzwKZ2zfa3R6H/"
            "without-specific-countermeasures-the-easiest-path-to",
            section="all",
            why="Why naive training of very capable systems on human feedback could end "
            "badly by default.",
        ),
        R(
            title="Why AI alignment could be hard with modern deep learning",
            authors="Ajeya Cotra",
            year=2021,
            url="https://www.cold-takes.com/"
            "why-ai-alignment-could-be-hard-with-modern-deep-learning/",
            section="all",
            why="A more accessible version of the same argument.",
        ),
        R(
            title="Eliciting Latent Knowledge (ARC's first technical report)",
            authors="Paul Christiano, Ajeya Cotra, Mark Xu",
            year=2021,
            url="https://www.alignmentforum.org/posts/qHCDysDnvhteW7kRd/"
            "arc-s-first-technical-report-eliciting-latent-knowledge",
            section='the first 49 pages, up to "Why we\'re excited about tackling worst-case ELK"',
            why="The problem of the theoretical exercise: getting a model to report what it "
            "knows rather than what a human would believe.",
        ),
        R(
            title="Prizes for ELK proposals",
            authors="Paul Christiano, Mark Xu",
            year=2022,
            url="https://www.alignmentforum.org/posts/QEYWkRoCn4fZxXQAY/prizes-for-elk-proposals",
            section="all",
            why="What counts as a valid ELK proposal, the bar for the theoretical exercise.",
        ),
        R(
            title="ELK prize results",
            authors="Paul Christiano, Mark Xu",
            year=2022,
            url="https://www.alignmentforum.org/posts/zjMKpSB2Xccn9qi5t/elk-prize-results",
            section="after writing your own proposal",
            why="The prize-winning proposals and their counterexamples, to compare with yours.",
        ),
    ),
    exercises=(
        Exercise(
            title="RLHF for positive sentiment on the Shakespeare model",
            description=(
                "Fine-tune your chapter 1 Shakespeare transformer with RLHF so that its "
                "samples have positive sentiment. Draw short unconditional samples and label "
                "a few hundred yourself as positive, negative or neutral (pooling labels with "
                "others or adding clear-cut snippets from the corpus is fine). Turn a copy of "
                "the model into a reward model that predicts special sentiment tokens at the "
                "last position only, with neutral treated as a soft 50/50 label. Then "
                "optimize the original model with PPO using the reward model's log "
                "probability of positive sentiment as the reward: skip the value function and "
                "use the normalized reward (fixed constants from a few thousand samples) as "
                "the advantage at every token. Track the clipped fraction and grow the "
                "iteration batch if it is under 1%, and track KL(current || original) per "
                "completion, stopping at 10 nats while keeping checkpoints along the way. "
                "Read samples across checkpoints to find where overoptimization starts, and "
                "judge the result with blind ratings. A harder variant uses prompts from the "
                "corpus and a comparison-based reward model."
            ),
            success_criteria=(
                "at least a few hundred human labels (positive / negative / neutral) "
                "collected with the labeling tool",
                "the reward model is trained only on the last token, with neutral as a soft "
                "0.5 label, and beats chance on held-out labels",
                "PPO uses the normalized reward-model log-probability as the per-token "
                "advantage, with no value function",
                "the fraction of clipped ratios is at least 1% (iteration batch increased if not)",
                "sqrt(KL(current || original)) per completion grows roughly linearly over "
                "training; training stops at 10 nats with intermediate checkpoints kept",
                "the reward-model score rises over training",
                "blind ratings of 20 samples from the original and 20 from the chosen "
                "checkpoint favour the chosen checkpoint",
                "the write-up names the KL at which overoptimization became visible",
            ),
            kind="practical",
        ),
        Exercise(
            title="An ELK proposal and its counterexample",
            description=(
                "Read the first 49 pages of the ELK report and try to devise a training "
                "strategy that defeats every counterexample given there. Base it on one of "
                "these starting points: make the reporter's answers useful to a second, "
                "auxiliary AI; demand that the reporter vary continuously; penalize a reporter "
                "for relying on many parts of the predictor; or squeeze the predictor's state "
                "through a bottleneck so that it cannot model what a human would think. Aim "
                "for the standard of a valid entry in the ELK prize contest. Your proposal "
                "will very likely have its own counterexample, so state it precisely enough "
                "to construct one, and then compare with the published prize results."
            ),
            success_criteria=(
                "a written proposal precise enough to be a valid ELK prize entry (training "
                "strategy, data and the reporter it aims to select)",
                "an argument for why it defeats each counterexample in the report's first 49 pages",
                "a specific counterexample to the proposal itself",
                "a comparison with the proposals in the ELK prize results post",
            ),
            kind="theoretical",
        ),
    ),
    time="1-2 weeks",
    experiments=(
        Experiment(
            name="rlhf",
            chapter=7,
            module="dlcurriculum.ch07_alignment.experiments",
            attr="RLHF",
            summary="RLHF of the chapter-1 Shakespeare model: labels (synthetic or yours), a "
            "reward model, PPO to 10 nats, an independent judge (--set policy_run=RUN)",
        ),
    ),
)

_CH08 = Chapter(
    number=8,
    slug="ch08_interpretability",
    title="Interpretability",
    summary=(
        "Mechanistic interpretability tries to reverse-engineer a trained network's weights "
        "into algorithms a human can understand: features represented by neurons or "
        "directions, and circuits that connect them. If it succeeds at scale it could let us "
        "check what a model is doing instead of trusting its behaviour, which is why it "
        "matters for alignment. The readings move from vision models (features, attribution, "
        "circuits) to transformers (the residual stream, attention heads, induction heads). "
        "The exercise asks you to explain a real mechanism in a small model, with an MNIST "
        "CNN or induction heads in a small attention-only transformer as alternatives."
    ),
    recommended=(
        R(
            title="Zoom In: An Introduction to Circuits",
            authors="Chris Olah, Nick Cammarata, Ludwig Schubert, Gabriel Goh, Michael Petrov, "
            "Shan Carter",
            year=2020,
            url="https://distill.pub/2020/circuits/zoom-in/",
            section="all",
            why="The motivation and claims of the circuits programme (features, circuits, "
            "universality) with examples from InceptionV1.",
        ),
    ),
    optional=(
        R(
            title="Feature Visualization",
            authors="Chris Olah, Alexander Mordvintsev, Ludwig Schubert",
            year=2017,
            url="https://distill.pub/2017/feature-visualization/",
            section="all",
            why="Interpreting a neuron by optimizing an input to excite it, and the "
            "regularizers that make the result legible.",
        ),
        R(
            title="The Building Blocks of Interpretability",
            authors="Chris Olah et al.",
            year=2018,
            url="https://distill.pub/2018/building-blocks/",
            section="all",
            why="Combines feature visualization with attribution, which traces an output "
            "back to the inputs and neurons responsible for it.",
        ),
        R(
            title="Multimodal Neurons in Artificial Neural Networks",
            authors="Gabriel Goh et al.",
            year=2021,
            url="https://distill.pub/2021/multimodal-neurons/",
            section="skim",
            why="CLIP neurons that respond to a concept across photos, drawings and text.",
        ),
        R(
            title="A Mathematical Framework for Transformer Circuits",
            authors="Nelson Elhage et al.",
            year=2021,
            url="https://transformer-circuits.pub/2021/framework/index.html",
            section="all, with the accompanying exercises and videos",
            why="How to read attention-only transformers as sums of paths through the "
            "residual stream, including QK and OV circuits.",
        ),
        R(
            title="Transformer Circuits Exercises",
            authors="Nelson Elhage et al. (Anthropic)",
            year=2021,
            url="https://transformer-circuits.pub/2021/exercises/index.html",
            section="all",
            why="Pen-and-paper exercises that make the framework concrete.",
        ),
        R(
            title="In-context Learning and Induction Heads",
            authors="Catherine Olsson et al.",
            year=2022,
            url="https://transformer-circuits.pub/2022/"
            "in-context-learning-and-induction-heads/index.html",
            section="the overview and arguments 1-2",
            why="Induction heads, a two-layer copying mechanism that forms early in training "
            "and may underlie much in-context learning.",
        ),
        R(
            title="Softmax Linear Units",
            authors="Nelson Elhage et al.",
            year=2022,
            url="https://transformer-circuits.pub/2022/solu/index.html",
            section="skim",
            why="An activation function that makes more neurons interpretable, with many "
            "examples of language-model neurons.",
        ),
        R(
            title="Chris Olah's views on AGI safety",
            authors="Evan Hubinger",
            year=2019,
            url="https://www.alignmentforum.org/posts/X2i9dQQK3gETCyqh2/"
            "chris-olah-s-views-on-agi-safety",
            section="all",
            why="How interpretability could help make advanced AI safe.",
        ),
        R(
            title="Understanding RL Vision",
            authors="Jacob Hilton, Nick Cammarata, Shan Carter, Gabriel Goh, Chris Olah",
            year=2020,
            url="https://distill.pub/2020/understanding-rl-vision/",
            section="the feature visualization section",
            why="Why feature visualization often fails on models trained on simple data, and "
            "how attribution helps instead.",
        ),
    ),
    exercises=(
        Exercise(
            title="Explain a mechanism in a small transformer",
            description=(
                "Pick a concrete behaviour of a small language model (your chapter 1 "
                "Shakespeare model, or a small pretrained model) and explain mechanistically "
                "how the model produces it. Find the components that matter with attribution "
                "and ablations, test your hypothesis with activation patching, and write the "
                "explanation down as an algorithm that makes predictions you then check."
            ),
            success_criteria=(
                "a clearly stated behaviour with a metric measured on many inputs",
                "attribution or ablation identifies the heads and layers that matter, with numbers",
                "a causal test (ablation or activation patching) confirms the hypothesis: "
                "removing the claimed components destroys the behaviour and little else",
                "a written explanation of the mechanism as an algorithm, including what it "
                "does not explain",
            ),
        ),
        Exercise(
            title="Understand an MNIST CNN",
            description=(
                "Train a small CNN on MNIST and try as hard as you can to understand how it "
                "recognises digits. Try feature visualization, knowing it often fails on "
                "models trained on such simple data, and attribution, which is more likely "
                "to help, plus any other technique. Focusing on one small part of the network "
                "and understanding it well beats a shallow look at everything."
            ),
            success_criteria=(
                "a small CNN trained to high MNIST accuracy (at least 98%)",
                "feature visualizations of some channels, with an honest note on whether "
                "they are legible",
                "attributions (e.g. integrated gradients, which must satisfy completeness) "
                "explaining individual predictions",
                "a testable claim about one part of the network (a channel or a pathway to "
                "a logit) checked by ablation or hand-crafted inputs",
            ),
            kind="alternative",
        ),
        Exercise(
            title="Find induction heads",
            description=(
                "Train a two-layer attention-only transformer on sequences containing "
                "repeated random segments, then locate and explain the induction circuit: a "
                "previous-token head in the first layer whose output is used, via K-"
                "composition, by an induction head in the second layer that attends to the "
                "token after the previous occurrence of the current token and copies it."
            ),
            success_criteria=(
                "loss on the repeated half of the sequence falls far below the first half",
                "a previous-token head is identified in layer 0 by its attention pattern",
                "an induction head in layer 1 has a high induction score (attention to the "
                "token after the earlier occurrence)",
                "ablating either head removes most of the in-context improvement",
                "QK/OV analysis or composition scores show the two heads are connected by "
                "K-composition and that the OV circuit copies",
            ),
            kind="alternative",
        ),
    ),
    time="1-2 weeks",
    experiments=(
        Experiment(
            name="interp-mnist",
            chapter=8,
            module="dlcurriculum.ch08_interpretability.experiments",
            attr="INTERP_MNIST",
            summary="attribution (vs Captum), faithfulness, feature visualisation and a case "
            "study of the prerequisite's MNIST CNN",
        ),
        Experiment(
            name="induction-heads",
            chapter=8,
            module="dlcurriculum.ch08_interpretability.experiments",
            attr="INDUCTION",
            summary="induction heads in a 2-layer attention-only Shakespeare model, with ablations",
        ),
        Experiment(
            name="induction-lm",
            chapter=8,
            module="dlcurriculum.ch08_interpretability.experiments",
            attr="INDUCTION_LM",
            summary="top induction heads of a pretrained LM (SmolLM2 offline; --set model=gpt2)",
        ),
    ),
)

_CH09 = Chapter(
    number=9,
    slug="ch09_adversarial_training",
    title="Adversarial training",
    summary=(
        "Adversarial training makes a model robust by finding inputs on which it fails and "
        "training on them. In vision, tiny imperceptible perturbations can flip a "
        "classifier's answer with high confidence; for language models the analogue is "
        "searching for prompts that make a model produce harmful or unwanted text. For "
        "alignment the point is reliability in the worst case, not just on average, "
        "including failures that ordinary training data never reveals. The exercise red-teams "
        "a small chatbot with another language model and a toxicity classifier."
    ),
    recommended=(
        R(
            title="Intriguing properties of neural networks",
            authors="Christian Szegedy et al.",
            year=2013,
            url="https://arxiv.org/abs/1312.6199",
            section="section 4 (adversarial examples)",
            why="The discovery that imperceptible perturbations fool image classifiers, and "
            "that training on them improves robustness.",
        ),
    ),
    optional=(
        R(
            title="Adversarial Examples Are Not Bugs, They Are Features",
            authors="Andrew Ilyas et al.",
            year=2019,
            url="https://gradientscience.org/adv/",
            section="all",
            why="Argues that adversarial examples exploit real but non-robust features of the "
            "data.",
        ),
        R(
            title="A Discussion of 'Adversarial Examples Are Not Bugs, They Are Features'",
            authors="Logan Engstrom et al.",
            year=2019,
            url="https://distill.pub/2019/advex-bugs-discussion/",
            section="skim",
            why="Responses and follow-up experiments on the non-robust-features explanation.",
        ),
        R(
            title="Transfer of Adversarial Robustness Between Perturbation Types",
            authors="Daniel Kang, Yi Sun, Tom Brown, Dan Hendrycks, Jacob Steinhardt",
            year=2019,
            url="https://arxiv.org/abs/1905.01034",
            section="sections 1-4",
            why="How robustness to one kind of bounded perturbation (L-infinity, L2, ...) "
            "carries over to others.",
        ),
        R(
            title="Red Teaming Language Models with Language Models",
            authors="Ethan Perez et al.",
            year=2022,
            url="https://arxiv.org/abs/2202.03286",
            section="sections 1-3 and the chatbot prompt on the last page",
            why="The set-up the exercise reproduces: a red-team LM writes test cases and a "
            "classifier flags harmful replies.",
        ),
        R(
            title="Adversarial Training for High-Stakes Reliability",
            authors="Daniel M. Ziegler et al.",
            year=2022,
            url="https://arxiv.org/abs/2205.01663",
            section="sections 1-4",
            why="Adversarial training of a language-model classifier against increasingly "
            "strong human and tool-assisted adversaries.",
        ),
        R(
            title="High-stakes alignment via adversarial training [Redwood Research report]",
            authors="Redwood Research (Daniel Ziegler et al.)",
            year=2022,
            url="https://www.alignmentforum.org/posts/A9tJFJY7DsGTFKKkh/"
            "high-stakes-alignment-via-adversarial-training-redwood",
            section="all",
            why="The alignment motivation for that work, and where relaxed adversarial "
            "training could help with inner alignment.",
        ),
    ),
    exercises=(
        Exercise(
            title="Red-team a GPT-2 chatbot",
            description=(
                "Reproduce the red-teaming set-up of Perez et al. with HuggingFace models: a "
                "red-team language model (GPT-2 or larger), a chatbot made by prompting a "
                "language model with the dialogue prompt from the paper's last page, and an "
                "offensive-language classifier (for example unitary/toxic-bert). Use the "
                "zero-shot method (section 3.1) to generate many test questions, find those "
                "that make the chatbot reply offensively, and look for patterns among them. "
                "Optionally go on to the few-shot, supervised and RL red-teaming methods, in "
                "that order, compare their test cases, and reproduce analyses such as "
                "clustering the failures."
            ),
            success_criteria=(
                "zero-shot generation of a large set of test questions (e.g. thousands) from "
                "the red-team LM",
                "every question is answered by the prompted chatbot and every reply scored "
                "by the offensiveness classifier",
                "the fraction of offensive replies is reported, with examples of failing questions",
                "a written analysis of patterns in the failures (topics, phrasing, clusters)",
                "optional: few-shot, supervised and RL red teams raise the failure rate, "
                "and their test cases are compared for diversity",
            ),
        ),
        Exercise(
            title="Adversarial examples and adversarial training on MNIST",
            description=(
                "Our addition, for learners without the compute or network access that the "
                "language-model exercise needs: make the recommended reading concrete on the "
                "prerequisite's CNN. Attack it with gradient-based perturbations bounded in "
                "L-infinity norm (FGSM, then projected gradient descent), then train on "
                "adversarial examples and measure how robust and clean accuracy change."
            ),
            success_criteria=(
                "PGD perturbations stay inside the epsilon-ball and the valid pixel range",
                "PGD at a small epsilon (e.g. 0.1) drives a normally trained CNN's accuracy "
                "far below its clean accuracy",
                "adversarial training raises PGD robust accuracy substantially, at some cost "
                "in clean accuracy",
            ),
            kind="alternative",
        ),
    ),
    time="1 week",
    experiments=(
        Experiment(
            name="adv-mnist",
            chapter=9,
            module="dlcurriculum.ch09_adversarial_training.experiments",
            attr="ADV_MNIST",
            summary="FGSM and PGD on the MNIST CNN; standard vs PGD vs fast adversarial training",
        ),
        Experiment(
            name="redteam",
            chapter=9,
            module="dlcurriculum.ch09_adversarial_training.redteam_experiment",
            attr="REDTEAM",
            summary="red-team a chatbot with zero-shot, few-shot, supervised and RL red LMs",
        ),
    ),
)

CHAPTERS: tuple[Chapter, ...] = (
    _CH00,
    _CH01,
    _CH02,
    _CH03,
    _CH04,
    _CH05,
    _CH06,
    _CH07,
    _CH08,
    _CH09,
)
"""The prerequisite (0) and chapters 1-9, in curriculum order."""
