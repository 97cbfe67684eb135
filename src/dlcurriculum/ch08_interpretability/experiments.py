"""Chapter 8's experiments: `interp-mnist`, `induction-heads` and `induction-lm`.

The run functions and configs live in `mnist_experiment.py`, `induction_experiment.py`
and `lm_experiment.py`; this module declares the specs with their success criteria (plain
functions of a finished run) and the reports' written sections.
"""

from dlcurriculum.ch08_interpretability.figures import (
    induction_figures,
    induction_lm_figures,
    interp_mnist_figures,
)
from dlcurriculum.ch08_interpretability.induction_experiment import (
    INDUCTION_PRESETS,
    InductionConfig,
    run_induction,
)
from dlcurriculum.ch08_interpretability.lm_experiment import (
    INDUCTION_LM_PRESETS,
    InductionLMConfig,
    run_induction_lm,
)
from dlcurriculum.ch08_interpretability.mnist_experiment import (
    INTERP_MNIST_PRESETS,
    InterpMNISTConfig,
    run_interp_mnist,
)
from dlcurriculum.ch08_interpretability.mnist_study import case_study_text, feature_vis_text
from dlcurriculum.core.experiment import ExperimentSpec
from dlcurriculum.core.report import (
    Criterion,
    RunRecord,
    Verdict,
    at_most,
    markdown_table,
    not_measured,
)

__all__ = [
    "INDUCTION",
    "INDUCTION_LM",
    "INDUCTION_LM_PRESETS",
    "INDUCTION_PRESETS",
    "INTERP_MNIST",
    "INTERP_MNIST_PRESETS",
    "InductionConfig",
    "InductionLMConfig",
    "InterpMNISTConfig",
]

METHODS = ("saliency", "gradient_x_input", "integrated_gradients", "occlusion")


# ------------------------------------------------------------------------------ interp-mnist


def _deletion_beats_random(r: RunRecord) -> Verdict:
    ig, rnd = r.summary["deletion_auc/integrated_gradients"], r.summary["deletion_auc/random"]
    gap = rnd - ig
    return Verdict(bool(gap >= r.config["min_auc_gap"]), f"IG {ig:.3f} vs random {rnd:.3f} "
                   f"(gap {gap:.3f})")  # fmt: skip


def _insertion_beats_random(r: RunRecord) -> Verdict:
    ig, rnd = r.summary["insertion_auc/integrated_gradients"], r.summary["insertion_auc/random"]
    gap = ig - rnd
    return Verdict(bool(gap >= r.config["min_auc_gap"]), f"IG {ig:.3f} vs random {rnd:.3f} "
                   f"(gap {gap:.3f})")  # fmt: skip


def _mnist_sections(r: RunRecord) -> list[tuple[str, str]]:
    s = r.summary
    rows = [
        (
            m,
            f"{s[f'deletion_auc/{m}']:.3f}",
            f"{s[f'insertion_auc/{m}']:.3f}",
            f"{s.get(f'randomised_rank_corr/{m}', float('nan')):.2f}",
        )
        for m in (*METHODS, "random")
    ]
    table = markdown_table(
        [
            "order",
            "deletion AUC (lower better)",
            "insertion AUC (higher better)",
            "rank corr. after full randomisation",
        ],
        rows,
    )
    summary = (
        f"- CNN test accuracy {s['test_accuracy']:.2%}.\n"
        f"- Integrated gradients completeness: mean error {s['ig_completeness_mean_error']:.3%}, "
        f"worst {s['ig_completeness_max_error']:.3%} ({r.config['ig_steps']} steps).\n\n"
        f"{table}\n\n"
        "Gradient x input and integrated gradients multiply by the pixel, so their maps keep "
        "the digit's shape even for a random model; the rank correlation is measured over the "
        "stroke pixels only, where the weights must decide the ordering."
    )
    return [
        ("Attribution and faithfulness", summary),
        ("Feature visualisation: when it fails on MNIST", feature_vis_text(s)),
        (f"Case study: the logit of digit {s['case_digit']}", case_study_text(s)),
    ]


INTERP_MNIST = ExperimentSpec(
    name="interp-mnist",
    title="Chapter 8: reverse-engineering the MNIST CNN",
    presets=INTERP_MNIST_PRESETS,
    run=run_interp_mnist,
    exercises=("integrated_gradients",),
    criteria=(
        at_most(
            "integrated gradients' completeness error |sum - (f(x) - f(0))| / |f(x) - f(0)|, "
            "worst image",
            "ig_completeness_max_error",
            "max_completeness_error",
            "{:.2%}",
        ),
        Criterion(
            "deletion AUC: IG order at least {min_auc_gap:g} below a random order",
            _deletion_beats_random,
        ),
        Criterion(
            "insertion AUC: IG order at least {min_auc_gap:g} above a random order",
            _insertion_beats_random,
        ),
        at_most(
            "IG's rank correlation (stroke pixels) with that of a fully randomised model",
            "randomised_rank_corr/integrated_gradients",
            "max_randomised_corr",
            "{:.2f}",
        ),
    ),
    figures=interp_mnist_figures,
    sections=_mnist_sections,
    next_steps=(
        "Compare the attribution maps of misclassified digits with those of their usual "
        "confusions, try `--set case_digit=4`, and write integrated gradients yourself with "
        "`dlc start 8` then `dlc check 8 integrated_gradients`."
    ),
)


# --------------------------------------------------------------------------- induction-heads


def _induction_head(r: RunRecord) -> Verdict:
    best, (layer, head) = r.summary["best_induction_score"], r.summary["best_induction_head"]
    return Verdict(
        bool(best >= r.config["induction_threshold"]), f"{best:.3f} (head {layer}.{head})"
    )


def _ablation_rise(r: RunRecord) -> Verdict:
    s = r.summary
    if not s["detected_induction_heads"]:
        # the run then ablates its best head, which is not an induction head: no verdict
        return not_measured("no head reached induction_threshold, so none was ablated as one")
    rise = s["ablation_loss_rise"]
    control = s["ablate_control_second_half_loss"] - s["repeat_second_half_loss"]
    return Verdict(
        bool(rise >= r.config["min_ablation_rise"] and rise > control),
        f"{rise:+.2f} nats (as many low-scoring heads: {control:+.2f})",
    )


def _induction_sections(r: RunRecord) -> list[tuple[str, str]]:
    s = r.summary
    n_layers, n_heads = len(s["induction_scores"]), len(s["induction_scores"][0])
    rows = [
        (f"{la}.{h}", f"{s['induction_scores'][la][h]:.3f}", f"{s['prev_token_scores'][la][h]:.3f}")
        for la in range(n_layers)
        for h in range(n_heads)
    ]
    fmt = ", ".join
    text = (
        f"{markdown_table(['head', 'induction score', 'previous-token score'], rows)}\n\n"
        f"On {r.config['n_probe']} sequences of {r.config['half_len']} random tokens repeated "
        f"twice, the loss is {s['repeat_first_half_loss']:.2f} nats on the first copy and "
        f"{s['repeat_second_half_loss']:.2f} on the second. Ablating the induction head(s) "
        f"{fmt(f'{a}.{b}' for a, b in s['ablate_induction_heads'])} raises the second copy's "
        f"loss to {s['ablate_induction_second_half_loss']:.2f}; ablating the strongest "
        f"previous-token head of layer 0 "
        f"({fmt(f'{a}.{b}' for a, b in s['ablate_prev_token_heads'])}) "
        f"gives {s['ablate_prev_token_second_half_loss']:.2f} (K-composition: the induction "
        f"head finds its target through what this head wrote); ablating as many low-scoring "
        f"heads gives {s['ablate_control_second_half_loss']:.2f}.\n\n"
        f"In-context learning score on Shakespeare (loss at token {s['icl_positions'][0]} minus "
        f"at token {s['icl_positions'][1]}): {s['icl_score']:+.3f} nats; validation loss "
        f"{s['val_loss']:.3f}."
    )
    return [("Heads and ablations", text)]


INDUCTION = ExperimentSpec(
    name="induction-heads",
    title="Chapter 8: induction heads in a 2-layer attention-only transformer",
    presets=INDUCTION_PRESETS,
    run=run_induction,
    exercises=("induction_score", "ablate_heads"),
    criteria=(
        Criterion("the best head's induction score ≥ {induction_threshold:g}", _induction_head),
        Criterion(
            "ablating the induction heads raises the second copy's loss by ≥ "
            "{min_ablation_rise:g} nats, and more than ablating as many low-scoring heads",
            _ablation_rise,
        ),
    ),
    figures=induction_figures,
    sections=_induction_sections,
    next_steps=(
        "Look at the training curve for the sudden rise of the induction score, then run "
        "`dlc run induction-lm` to find the same heads in a pretrained model."
    ),
)


# ----------------------------------------------------------------------------- induction-lm


def _lm_top_head(r: RunRecord) -> Verdict:
    layer, head, score = r.summary["top_heads"][0]
    return Verdict(bool(score >= r.config["min_top_score"]), f"{score:.3f} (head {layer}.{head})")


def _lm_copies(r: RunRecord) -> Verdict:
    first, second = r.summary["repeat_first_half_loss"], r.summary["repeat_second_half_loss"]
    gain = first - second
    return Verdict(bool(gain >= r.config["min_copy_gain"]),
                   f"{first:.2f} -> {second:.2f} nats ({gain:+.2f})")  # fmt: skip


def _lm_sections(r: RunRecord) -> list[tuple[str, str]]:
    s = r.summary
    rows = [(i + 1, f"{la}.{h}", f"{sc:.3f}") for i, (la, h, sc) in enumerate(s["top_heads"])]
    prev = ", ".join(f"{la}.{h} ({sc:.2f})" for la, h, sc in s["top_prev_token_heads"][:5])
    text = (
        f"`{s['model']}` ({s['class']}, {s['n_layers']} layers x {s['n_heads']} heads); "
        f"{s['heads_above_0.5']} heads score at least 0.5.\n\n"
        f"{markdown_table(['rank', 'layer.head', 'induction score'], rows)}\n\n"
        f"Strongest previous-token heads: {prev}. For GPT-2 small (`--set model=gpt2`) the "
        "literature's induction heads are 5.1, 5.5, 6.9, 7.2 and 7.10 (Olsson et al. 2022; "
        "Wang et al. 2022)."
    )
    return [("Top induction heads", text)]


INDUCTION_LM = ExperimentSpec(
    name="induction-lm",
    title="Chapter 8: induction heads in a pretrained language model",
    presets=INDUCTION_LM_PRESETS,
    run=run_induction_lm,
    exercises=("induction_score",),
    criteria=(
        Criterion("the best head's induction score ≥ {min_top_score:g}", _lm_top_head),
        Criterion(
            "the second copy of random tokens is predicted ≥ {min_copy_gain:g} nats better "
            "than the first",
            _lm_copies,
        ),
    ),
    figures=induction_lm_figures,
    sections=_lm_sections,
    next_steps="Online, compare with GPT-2 small: `dlc run induction-lm --set model=gpt2`.",
)
