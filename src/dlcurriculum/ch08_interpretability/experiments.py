"""Chapter 8's experiments: `interp-mnist`, `induction-heads` and `induction-lm`.

The run functions live in `<name>_experiment.py`; the criteria, figures and sections in
report.py (interp-mnist), induction_report.py and induction_lm_report.py; the configs and
presets in config.py.
"""

from dlcurriculum.ch08_interpretability.config import PRESETS
from dlcurriculum.ch08_interpretability.induction_heads_experiment import run_induction
from dlcurriculum.ch08_interpretability.induction_lm_experiment import run_induction_lm
from dlcurriculum.ch08_interpretability.induction_lm_report import (
    INDUCTION_LM_CRITERIA,
    induction_lm_figures,
    induction_lm_sections,
)
from dlcurriculum.ch08_interpretability.induction_report import (
    INDUCTION_HEADS_CRITERIA,
    induction_heads_figures,
    induction_heads_sections,
)
from dlcurriculum.ch08_interpretability.interp_mnist_experiment import run_interp_mnist
from dlcurriculum.ch08_interpretability.report import (
    INTERP_MNIST_CRITERIA,
    interp_mnist_figures,
    interp_mnist_sections,
)
from dlcurriculum.core.experiment import ExperimentSpec

INTERP_MNIST = ExperimentSpec(
    name="interp-mnist",
    title="Chapter 8: reverse-engineering the MNIST CNN",
    presets=PRESETS["interp-mnist"],
    run=run_interp_mnist,
    exercises=("integrated_gradients",),
    criteria=INTERP_MNIST_CRITERIA,
    figures=interp_mnist_figures,
    sections=interp_mnist_sections,
    next_steps=(
        "Compare the attribution maps of misclassified digits with those of their usual "
        "confusions, try `--set case_digit=4`, and write integrated gradients yourself with "
        "`dlc start 8` then `dlc check 8 integrated_gradients`."
    ),
)


INDUCTION_HEADS = ExperimentSpec(
    name="induction-heads",
    title="Chapter 8: induction heads in a 2-layer attention-only transformer",
    presets=PRESETS["induction-heads"],
    run=run_induction,
    exercises=(
        "induction_score",
        "ablate_heads",
        "composition_score",
        "composition_scores",
        "patch_heads",
    ),
    criteria=INDUCTION_HEADS_CRITERIA,
    figures=induction_heads_figures,
    sections=induction_heads_sections,
    next_steps=(
        "Look at the training curve for the sudden rise of the induction score, then run "
        "`dlc run induction-lm` to find the same heads in a pretrained model. Write the "
        "tools yourself with `dlc start 8`, then `dlc check 8 composition_scores` and "
        "`dlc check 8 patch_heads`."
    ),
)


INDUCTION_LM = ExperimentSpec(
    name="induction-lm",
    title="Chapter 8: induction heads in a pretrained language model",
    presets=PRESETS["induction-lm"],
    run=run_induction_lm,
    exercises=("induction_score",),
    criteria=INDUCTION_LM_CRITERIA,
    figures=induction_lm_figures,
    sections=induction_lm_sections,
    next_steps="Online, compare with GPT-2 small: `dlc run induction-lm --set model=gpt2`.",
)
