"""The curriculum's record of this chapter: summary, readings, exercises and experiments.

Torch-free, so `dlc list` and `dlc show` stay fast; the long-form page is README.md beside it.
The prose is ours, after Jacob Hilton's "Deep Learning Curriculum"; titles, authors, years and
links of readings are facts copied from the sources.
"""

from dlcurriculum.core.curriculum import Assignment, Chapter, Experiment, Link, Reading
from dlcurriculum.core.exercises import Exercise

EXERCISES = (
    Exercise(
        "sinusoidal_pos_embed",
        module="model",
        qualname="sinusoidal_pos_embed",
        check="check_sinusoidal_pos_embed",
        difficulty=1,
    ),
    Exercise(
        "attention_pattern",
        module="attention",
        qualname="attention_pattern",
        check="check_attention_pattern",
        difficulty=1,
    ),
    Exercise(
        "attention",
        module="attention",
        qualname="attention",
        check="check_attention",
        difficulty=1,
        depends_on=("attention_pattern",),
    ),
    Exercise(
        "causal_mask",
        module="attention",
        qualname="causal_mask",
        check="check_causal_mask",
        difficulty=1,
    ),
    Exercise(
        "layer_norm", module="model", qualname="LayerNorm", check="check_layer_norm", difficulty=1
    ),
    Exercise(
        "multi_head_attention",
        module="attention",
        qualname="Attention",
        check="check_multi_head_attention",
        difficulty=2,
        depends_on=("attention", "causal_mask"),
    ),
    Exercise(
        "transformer_block",
        module="model",
        qualname="TransformerBlock",
        check="check_transformer_block",
        difficulty=2,
        depends_on=("layer_norm", "multi_head_attention"),
    ),
    Exercise(
        "transformer",
        module="model",
        qualname="Transformer",
        check="check_transformer",
        difficulty=2,
        depends_on=("sinusoidal_pos_embed", "transformer_block"),
    ),
)
"""The code the learner writes: one function or class each, graded by `dlc check 1`."""

CHAPTER = Chapter(
    number=1,
    slug="ch01_transformers",
    rank=1,
    helps=(2, 3, 7, 8, 9),  # 7 added by us: its RLHF starts from the chapter-1 model
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
        Reading(
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
        Reading(
            title="The Illustrated Transformer",
            authors="Jay Alammar",
            year=2018,
            url="https://jalammar.github.io/illustrated-transformer/",
            section="all",
            why="A gentle, picture-heavy walk through the same architecture if the paper "
            "feels dense.",
        ),
        Reading(
            title="Language Models are Few-Shot Learners (GPT-3)",
            authors="Tom B. Brown et al.",
            year=2020,
            url="https://arxiv.org/abs/2005.14165",
            section="sections 1-2",
            why="Shows what a very large decoder-only transformer can do, including learning "
            "tasks from examples in its prompt.",
        ),
        Reading(
            title="The Transformer Family",
            authors="Lilian Weng",
            year=2020,
            url="https://lilianweng.github.io/posts/2020-04-07-the-transformer-family/",
            section="skim",
            why="A survey of variants (Transformer-XL, sparse and efficient attention, "
            "Universal Transformer) and the problems each addresses.",
        ),
        Reading(
            title="Exploring the Limits of Transfer Learning with a Unified Text-to-Text "
            "Transformer (T5)",
            authors="Colin Raffel et al.",
            year=2019,
            url="https://arxiv.org/abs/1910.10683",
            section="section 3",
            why="A careful ablation study of architectural choices and training objectives.",
        ),
        Reading(
            title="Outrageously Large Neural Networks: The Sparsely-Gated Mixture-of-Experts Layer",
            authors="Noam Shazeer et al.",
            year=2017,
            url="https://arxiv.org/abs/1701.06538",
            section="section 2",
            why="Explains mixture-of-experts layers, a form of parameter sparsity used to "
            "make large models cheaper to train.",
        ),
    ),
    links=(
        Link(
            title="The Annotated Transformer",
            url="http://nlp.seas.harvard.edu/2018/04/03/attention.html",
            why="The paper interleaved with working code (Alexander Rush): compare with it when "
            "stuck, after your own attempt, rather than copy it.",
        ),
        Link(
            title="The Complete Works of William Shakespeare (Project Gutenberg)",
            url="https://www.gutenberg.org/files/100/100-0.txt",
            why="The training text of the exercise, one plain-text file (`dlc run shakespeare` "
            "fetches it through the offline-first data chain).",
        ),
    ),
    exercises=(
        Assignment(
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
            summary="reverse random sequences: the second half learned, the first at chance",
        ),
        Experiment(
            name="shakespeare",
            summary="a word-level language model of Shakespeare vs a unigram baseline",
        ),
    ),
)
