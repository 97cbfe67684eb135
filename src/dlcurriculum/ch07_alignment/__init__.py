"""Chapter 7, alignment: RLHF on the Shakespeare model and an ELK proposal.

The learner writes the reward-model loss with its last-position mask, the per-token PPO
loss without a value function, the per-completion KL, and the reward's normalisation by
constants fixed on the original policy; `dlc check 7` grades them and
`dlc run rlhf --impl WORKSPACE` runs the whole loop with the learner's pieces.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
    Exercise(
        "reward_model_loss",
        module="reward_model",
        qualname="reward_model_loss",
        check="check_reward_model_loss",
    ),
    Exercise(
        "ppo_token_loss", module="rlhf", qualname="ppo_token_loss", check="check_ppo_token_loss"
    ),
    Exercise("completion_kl", module="rlhf", qualname="completion_kl", check="check_completion_kl"),
    Exercise(
        "normalize_rewards",
        module="rlhf",
        qualname="normalize_rewards",
        check="check_normalize_rewards",
    ),
]
