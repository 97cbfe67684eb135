"""Chapter 6, reinforcement learning: PPO from scratch on CartPole and Procgen.

The learner writes GAE, the clipped surrogate loss, the value loss, the approximate-KL and
explained-variance diagnostics, advantage normalization, the total PPO loss, and the rollout
buffer; `dlc check 6` grades them and
`dlc run ppo-cartpole --impl WORKSPACE` trains PPO with the learner's pieces end to end.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
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
]
