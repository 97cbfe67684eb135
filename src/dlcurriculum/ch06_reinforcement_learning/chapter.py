"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Link, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
    Exercise("compute_gae", module="gae", qualname="compute_gae", check="check_compute_gae"),
    Exercise(
        "clipped_surrogate",
        module="losses",
        qualname="clipped_surrogate",
        check="check_clipped_surrogate",
    ),
    Exercise("value_loss", module="losses", qualname="value_loss", check="check_value_loss"),
    Exercise("approx_kl", module="losses", qualname="approx_kl", check="check_approx_kl"),
    Exercise(
        "explained_variance",
        module="losses",
        qualname="explained_variance",
        check="check_explained_variance",
    ),
    Exercise(
        "normalize_advantages",
        module="losses",
        qualname="normalize_advantages",
        check="check_normalize_advantages",
    ),
    Exercise("ppo_loss", module="losses", qualname="ppo_loss", check="check_ppo_loss"),
    Exercise(
        "rollout_buffer",
        module="buffer",
        qualname="RolloutBuffer",
        check="check_rollout_buffer",
        difficulty=2,
        depends_on=("compute_gae",),
    ),
)
"""The code the learner writes: one function or class each, graded by `dlc check 6`."""

CHAPTER = Chapter(
    number=6,
    slug="ch06_reinforcement_learning",
    rank=2,
    helps=(7,),
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
        Reading(
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
        Reading(
            title="Reinforcement Learning: An Introduction (2nd edition)",
            authors="Richard S. Sutton, Andrew G. Barto",
            year=2018,
            url="http://www.incompleteideas.net/book/RLbook2020.pdf",
            section="chapter 3 (MDPs and Bellman equations) and chapter 13 (policy gradient "
            "methods)",
            why="The standard formalism of Markov decision processes and value functions.",
        ),
        Reading(
            title="A Clearer Proof of the Policy Gradient Theorem",
            authors="Andy Jones",
            year=2021,
            url="https://andyljones.com/posts/policy-gradient.html",
            section="all",
            why="A short derivation of the policy gradient theorem that avoids most of the "
            "textbook's algebra.",
        ),
        Reading(
            title="Proximal Policy Optimization Algorithms",
            authors="John Schulman, Filip Wolski, Prafulla Dhariwal, Alec Radford, Oleg Klimov",
            year=2017,
            url="https://arxiv.org/abs/1707.06347",
            section="sections 1-5",
            why="PPO: a policy gradient with a learned value baseline, an entropy bonus and a "
            "clipped objective that acts like a KL penalty on each update.",
        ),
        Reading(
            title="High-Dimensional Continuous Control Using Generalized Advantage Estimation",
            authors="John Schulman, Philipp Moritz, Sergey Levine, Michael Jordan, Pieter Abbeel",
            year=2015,
            url="https://arxiv.org/abs/1506.02438",
            section="sections 1-3",
            why="GAE, the advantage estimator almost always paired with PPO, and its "
            "bias-variance knob lambda.",
        ),
        Reading(
            title="Playing Atari with Deep Reinforcement Learning (DQN)",
            authors="Volodymyr Mnih et al.",
            year=2013,
            url="https://arxiv.org/abs/1312.5602",
            section="sections 1-4",
            why="Value-based, off-policy RL with Q-learning, the main alternative family to "
            "policy gradients.",
        ),
        Reading(
            title="Rainbow: Combining Improvements in Deep Reinforcement Learning",
            authors="Matteo Hessel et al.",
            year=2017,
            url="https://arxiv.org/abs/1710.02298",
            section="skim",
            why="How several separate improvements to DQN combine.",
        ),
        Reading(
            title="Equivalence Between Policy Gradients and Soft Q-Learning",
            authors="John Schulman, Xi Chen, Pieter Abbeel",
            year=2017,
            url="https://arxiv.org/abs/1704.06440",
            section="sections 1-3",
            why="A theoretical bridge between policy-based and value-based methods under "
            "entropy regularization.",
        ),
        Reading(
            title="Mastering Chess and Shogi by Self-Play with a General Reinforcement "
            "Learning Algorithm (AlphaZero)",
            authors="David Silver et al.",
            year=2017,
            url="https://arxiv.org/abs/1712.01815",
            section="skim",
            why="Policy and value networks combined with Monte Carlo tree search to master "
            "board games.",
        ),
        Reading(
            title="Mastering Atari, Go, Chess and Shogi by Planning with a Learned Model (MuZero)",
            authors="Julian Schrittwieser et al.",
            year=2019,
            url="https://arxiv.org/abs/1911.08265",
            section="skim",
            why="A model-based successor to AlphaZero that plans with a learned model; "
            "model-based methods can be far more sample-efficient.",
        ),
    ),
    links=(
        Link(
            title="Procgen Benchmark (code)",
            url="https://github.com/openai/procgen",
            why="The 16 procedurally generated games of the exercise (we install the "
            "`procgen-mirror` build, extra `procgen`).",
        ),
        Link(
            title="Gym (code)",
            url="https://github.com/openai/gym",
            why="The original environment interface, for a simpler environment to debug on "
            "first; Procgen's games are also registered as Gym environments.",
        ),
        Link(
            title="Gymnasium",
            url="https://gymnasium.farama.org/",
            why="The maintained fork of Gym, which we use for CartPole (extra `rl`).",
        ),
        Link(
            title="Leveraging Procedural Generation to Benchmark Reinforcement Learning (Procgen)",
            url="https://arxiv.org/abs/1912.01588",
            why="The paper's PPO hyperparameters (appendix) are the exercise's starting point.",
        ),
        Link(
            title="A Closer Look at Deep Policy Gradients",
            url="https://arxiv.org/pdf/1811.02553v3.pdf",
            why="Section 9.3 gives the pseudocode for reward normalization by a running "
            "estimate of the return's scale.",
        ),
        Link(
            title="Approximating KL Divergence",
            url="http://joschu.net/blog/kl-approx.html",
            why="Why half the mean squared log-ratio is a sound estimate of the KL to the old "
            "policy, the diagnostic the exercise plots.",
        ),
    ),
    exercises=(
        Assignment(
            title="PPO on Procgen",
            description=(
                "Implement PPO and train it on Procgen in easy mode, which fits on one GPU "
                "without data parallelism. This is hard to get right, so first get it "
                "working on a simple Gymnasium environment such as CartPole. Start from the "
                "Procgen paper's hyperparameters and tune mainly the learning rate for your "
                "own network. Use both reward normalization and advantage normalization, and "
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
            summary="PPO from scratch on CartPole-v1: 5 seeds to return 475, with the diagnostics",
        ),
        Experiment(
            name="ppo-procgen",
            summary="PPO with the IMPALA CNN on Procgen easy mode vs a random policy "
            "(--set env=GAME)",
        ),
    ),
)
