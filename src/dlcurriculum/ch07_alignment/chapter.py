"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Link, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
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
)
"""The code the learner writes: one function or class each, graded by `dlc check 7`."""

CHAPTER = Chapter(
    number=7,
    slug="ch07_alignment",
    rank=4,
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
        Reading(
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
        Reading(
            title="Learning to Summarize with Human Feedback",
            authors="Nisan Stiennon et al.",
            year=2020,
            url="https://openai.com/blog/learning-to-summarize-with-human-feedback/",
            section="all",
            why="The first major application of RLHF to language models, including the KL "
            "penalty and reward-model overoptimization.",
        ),
        Reading(
            title="Aligning Language Models to Follow Instructions (InstructGPT)",
            authors="Long Ouyang et al.",
            year=2022,
            url="https://openai.com/blog/instruction-following/",
            section="all",
            why="RLHF applied to GPT-3 to make it follow instructions.",
        ),
        Reading(
            title="Learning Complex Goals with Iterated Amplification",
            authors="Paul Christiano, Dario Amodei",
            year=2018,
            url="https://openai.com/blog/amplifying-ai-training/",
            section="all",
            why="Scaling oversight beyond what humans can judge directly by decomposing "
            "tasks; the supervised version is also called imitative amplification or HCH.",
        ),
        Reading(
            title="Scalable agent alignment via reward modeling",
            authors="Jan Leike et al.",
            year=2018,
            url="https://deepmindsafetyresearch.medium.com/"
            "scalable-agent-alignment-via-reward-modeling-bf4ab06dfd84",
            section="all",
            why="Recursive reward modeling: AI assistants help humans evaluate, like "
            "amplification but with RL as the distillation step.",
        ),
        Reading(
            title="Summarizing Books with Human Feedback",
            authors="Jeff Wu et al.",
            year=2021,
            url="https://openai.com/blog/summarizing-books/",
            section="all",
            why="Task decomposition combined with RLHF, a simple instance of amplification.",
        ),
        Reading(
            title="AI Safety via Debate",
            authors="Geoffrey Irving, Paul Christiano, Dario Amodei",
            year=2018,
            url="https://openai.com/blog/debate/",
            section="all",
            why="Two AIs argue and a human judges, another proposal for supervising tasks "
            "too hard to evaluate directly.",
        ),
        Reading(
            title="Debate update: Obfuscated arguments problem",
            authors="Beth Barnes, Paul Christiano",
            year=2020,
            url="https://www.alignmentforum.org/posts/PJLABqQ962hZEqhdB/"
            "debate-update-obfuscated-arguments-problem",
            section="all",
            why="A potential obstruction to debate found in experiments with human debaters.",
        ),
        Reading(
            title="AI-Written Critiques Help Humans Notice Flaws",
            authors="William Saunders et al.",
            year=2022,
            url="https://openai.com/blog/critiques/",
            section="all",
            why="Model-written critiques help humans find flaws in summaries, a one-step "
            "version of assisted evaluation.",
        ),
        Reading(
            title="Specification gaming: the flip side of AI ingenuity",
            authors="Victoria Krakovna et al.",
            year=2020,
            url="https://www.deepmind.com/blog/specification-gaming-the-flip-side-of-ai-ingenuity",
            section="all",
            why="Examples of systems exploiting misspecified objectives, the outer-alignment "
            "problem.",
        ),
        Reading(
            title="Goal Misgeneralization in Deep Reinforcement Learning",
            authors="Lauro Langosco et al.",
            year=2021,
            url="https://arxiv.org/abs/2105.14111",
            section="sections 1-3",
            why="Agents competently pursue the wrong goal after distribution shift even with "
            "a correct training objective, an inner-alignment failure.",
        ),
        Reading(
            title="Risks from Learned Optimization in Advanced Machine Learning Systems",
            authors="Evan Hubinger, Chris van Merwijk, Vladimir Mikulik, Joar Skalse, "
            "Scott Garrabrant",
            year=2019,
            url="https://arxiv.org/abs/1906.01820",
            section="sections 1-4",
            why="The in-depth treatment of inner alignment and mesa-optimization.",
        ),
        Reading(
            title="AGI Safety Fundamentals curriculum",
            authors="Richard Ngo",
            year=2022,
            url="https://docs.google.com/document/d/"
            "1mTm_sT2YQx3mRXQD6J2xD2QJG1c3kHyvX8kQc_IQ0ns/edit",
            section="as a map of further reading",
            why="A longer alignment curriculum that expands on this chapter.",
        ),
        Reading(
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
        Reading(
            title="Why AI alignment could be hard with modern deep learning",
            authors="Ajeya Cotra",
            year=2021,
            url="https://www.cold-takes.com/"
            "why-ai-alignment-could-be-hard-with-modern-deep-learning/",
            section="all",
            why="A more accessible version of the same argument.",
        ),
        Reading(
            title="Eliciting Latent Knowledge (ARC's first technical report)",
            authors="Paul Christiano, Ajeya Cotra, Mark Xu",
            year=2021,
            url="https://www.alignmentforum.org/posts/qHCDysDnvhteW7kRd/"
            "arc-s-first-technical-report-eliciting-latent-knowledge",
            section='the first 49 pages, up to "Why we\'re excited about tackling worst-case ELK"',
            why="The problem of the theoretical exercise: getting a model to report what it "
            "knows rather than what a human would believe.",
        ),
    ),
    links=(
        Link(
            title="Prizes for ELK proposals",
            url="https://www.alignmentforum.org/posts/QEYWkRoCn4fZxXQAY/prizes-for-elk-proposals",
            why="What counts as a valid ELK proposal (Paul Christiano, Mark Xu), the bar the "
            "theoretical exercise aims at.",
        ),
        Link(
            title="ELK prize results",
            url="https://www.alignmentforum.org/posts/zjMKpSB2Xccn9qi5t/elk-prize-results",
            why="The prize-winning proposals and their counterexamples: read them after writing "
            "your own, to compare.",
        ),
    ),
    exercises=(
        Assignment(
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
        Assignment(
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
            summary="RLHF of the chapter-1 Shakespeare model: labels (synthetic or yours), a "
            "reward model, PPO to 10 nats, an independent judge (--set policy_run=RUN)",
        ),
    ),
)
