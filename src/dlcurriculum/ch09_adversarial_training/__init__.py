"""Chapter 9, adversarial training: adversarial MNIST and red teaming a chatbot.

The learner writes PGD (`attacks.pgd`) and the few-shot red-team prompt
(`prompts.few_shot_prompt`); `dlc check 9` grades them, and
`dlc run adv-mnist --impl WORKSPACE` attacks and trains with the learner's PGD.
"""
