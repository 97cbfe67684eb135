"""Chapter 9, adversarial training: adversarial MNIST and red teaming a chatbot.

The learner writes PGD (`attacks.pgd`) and the few-shot red-team prompt
(`prompts.few_shot_prompt`); `dlc check 9` grades them, and
`dlc run adv-mnist --impl WORKSPACE` attacks and trains with the learner's PGD.
"""

from dlcurriculum.core.exercises import Exercise

EXERCISES = [
    Exercise("pgd", module="attacks", qualname="pgd", check="check_pgd", difficulty=2),
    Exercise(
        "few_shot_prompt",
        module="prompts",
        qualname="few_shot_prompt",
        check="check_few_shot_prompt",
    ),
]
