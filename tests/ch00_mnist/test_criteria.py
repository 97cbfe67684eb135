"""Every criterion of the prerequisite's two experiments on planted summaries: quick runs
like the README's pass; a CNN at chance, a regularizer that only looks good on the test set,
a gain inside the noise, or a study too small to measure never does."""

import pytest
import torch

from dlcurriculum.ch00_mnist import config, regularization_experiment
from dlcurriculum.ch00_mnist.experiments import MNIST, REGULARIZATION
from dlcurriculum.ch00_mnist.loop import Split, split_validation
from dlcurriculum.core.config import ConfigError
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.experiment import ExperimentSpec
from dlcurriculum.core.report import (
    FAIL,
    INCOMPLETE,
    NOT_MEASURED,
    PASS,
    Judgement,
)
from tests.criteria import judge_summary, statuses


def _judge(spec: ExperimentSpec, summary: dict, *sets: str) -> Judgement:
    return judge_summary(spec, summary, *sets)


def _statuses(spec: ExperimentSpec, summary: dict, *sets: str) -> list[str]:
    return statuses(spec, summary, *sets)


# ----- mnist -------------------------------------------------------------------------------

# the keys run_mnist writes (a quick run's figures)
MNIST_SUMMARY = {
    "test_loss": 0.027,
    "test_accuracy": 0.9921,
    "steps": 858,
    "epochs_run": 2.0,
    "train_time_s": 150.0,
    "time_to_target_s": 110.0,
    "best_step": 858,
    "val_loss": 0.03,
    "val_accuracy": 0.991,
    "parameters": 93_962,
    "wall_time_s": 170.0,
    "device": "cpu",
}


def test_mnist_passes_at_99_and_fails_at_chance_or_just_below() -> None:
    good = _judge(MNIST, MNIST_SUMMARY)
    assert good.status == PASS and good.verdicts[0][1].measured == "99.21%"
    assert _statuses(MNIST, MNIST_SUMMARY | {"test_accuracy": 0.1}) == [FAIL]
    assert _statuses(MNIST, MNIST_SUMMARY | {"test_accuracy": 0.9899}) == [FAIL]
    # validation accuracy is not the judged figure: a high one cannot rescue a low test one
    assert _statuses(MNIST, MNIST_SUMMARY | {"test_accuracy": 0.95, "val_accuracy": 1.0}) == [FAIL]


def test_mnist_without_a_test_figure_is_not_measured() -> None:
    summary = {k: v for k, v in MNIST_SUMMARY.items() if k != "test_accuracy"}
    judgement = _judge(MNIST, summary)
    assert [v.status for _, v in judgement.verdicts] == [NOT_MEASURED]
    assert judgement.status == INCOMPLETE


def test_mnist_label_shows_the_bar_the_run_used() -> None:
    [(label, _)] = _judge(MNIST, MNIST_SUMMARY).verdicts
    assert label == "test accuracy ≥ 99.00%"
    [(label, verdict)] = _judge(MNIST, MNIST_SUMMARY, "target_accuracy=0.995").verdicts
    assert label == "test accuracy ≥ 99.50%" and verdict.status == FAIL


def test_validation_is_carved_from_the_end_and_never_overlaps_training() -> None:
    index = torch.arange(100)  # image i is filled with the value i
    data = Split(index.float()[:, None, None, None].expand(100, 1, 28, 28), index % 10)
    train, val = split_validation(data, 30, 20)
    assert train.images[:, 0, 0, 0].tolist() == list(range(30))
    assert val.images[:, 0, 0, 0].tolist() == list(range(80, 100))
    assert val.labels.tolist() == [i % 10 for i in range(80, 100)]
    # a smaller training set leaves the validation split unchanged
    _, same_val = split_validation(data, 10, 20)
    assert same_val.images.equal(val.images)
    with pytest.raises(AssertionError, match="overlap"):
        split_validation(data, 90, 20)


def test_train_and_validation_sizes_are_checked_together() -> None:
    quick = config.PRESETS["mnist"]["quick"]
    assert quick.train_size + quick.val_size == 60_000 and quick.val_size == 5_000
    # the lead's shrunk quick run (train_size=4096) keeps the default validation split
    assert MNIST.config("quick", ["train_size=4096"]).val_size == 5_000
    with pytest.raises(DlcError, match=r"train_size \+ val_size must be at most 60000"):
        MNIST.config("quick", ["train_size=60000"])
    with pytest.raises(DlcError, match=r"early stopping .* watches the validation split"):
        MNIST.config("quick", ["val_size=0", "patience=2"])


def test_mnist_config_refuses_ranges_before_relations() -> None:
    # batch_size=0 is refused by its range, before train_size // batch_size divides by it
    with pytest.raises(ConfigError, match=r"^batch_size must be >= 1, got 0$"):
        MNIST.config("quick", ["batch_size=0"])
    with pytest.raises(ConfigError, match=r"got 55000 // 60000 < 2; lower batch_size"):
        MNIST.config("quick", ["batch_size=60000"])
    with pytest.raises(ConfigError, match=r"^augment must be in \[0, 27\], got 28$"):
        MNIST.config("quick", ["augment=28"])


def test_regularization_config_refuses_runs_it_cannot_train() -> None:
    with pytest.raises(ConfigError, match="must hold baseline"):
        REGULARIZATION.config("quick", ["conditions=dropout,weight_decay"])
    with pytest.raises(ConfigError, match="conditions must be one of"):
        REGULARIZATION.config("quick", ["conditions=baseline,mixup"])
    with pytest.raises(ConfigError, match=r"train_sizes=\(512,\) and batch_size=1024"):
        REGULARIZATION.config("smoke", ["batch_size=1024"])
    with pytest.raises(ConfigError, match=r"examples_per_run >= every train size"):
        REGULARIZATION.config("quick", ["examples_per_run=10000"])


# ----- regularization ---------------------------------------------------------------------


def _cell(val: float, test: float, std: float = 0.0011, n: int = 3) -> dict[str, float]:
    return {"n": n, "mean": test, "std": std, "val_mean": val, "val_std": std}


def _table(small: dict, large: dict | None = None) -> dict:
    return {"5000": small} | ({"50000": large} if large is not None else {})


# the README's quick study: on 5k images shifts win clearly (on validation and on test);
# on 50k nothing beats the baseline
SMALL = {
    "baseline": _cell(0.9820, 0.9818),
    "dropout": _cell(0.9832, 0.9833),
    "weight_decay": _cell(0.9829, 0.9826),
    "augmentation": _cell(0.9866, 0.9862),
    "early_stopping": _cell(0.9820, 0.9818),
}
LARGE = {
    "baseline": _cell(0.9905, 0.9904, 0.0005),
    "dropout": _cell(0.9870, 0.9870, 0.0005),
    "weight_decay": _cell(0.9904, 0.9903, 0.0005),
    "augmentation": _cell(0.9906, 0.9902, 0.0005),
    "early_stopping": _cell(0.9905, 0.9904, 0.0005),
}
GOOD = {"cells": 30, "table": _table(SMALL, LARGE), "wall_time_s": 900.0}


def test_regularization_good_study_passes_every_criterion() -> None:
    judgement = _judge(REGULARIZATION, GOOD)
    assert [v.status for _, v in judgement.verdicts] == [PASS, PASS, PASS], judgement.verdicts
    assert "augmentation (chosen on validation)" in judgement.verdicts[1][1].measured


def test_the_winner_is_chosen_on_validation_not_on_test() -> None:
    """Dropout has the biggest test gain but the worst validation score; augmentation wins on
    validation and gains nothing on test. Picking on test would pass; the study must fail."""
    small = SMALL | {
        "dropout": _cell(0.9815, 0.9870),
        "augmentation": _cell(0.9880, 0.9818),
    }
    assert regularization_experiment.choose_on_validation(small) == "augmentation"
    statuses = _statuses(REGULARIZATION, GOOD | {"table": _table(small, LARGE)})
    assert statuses[1:] == [FAIL, FAIL]


@pytest.mark.parametrize(
    ("why", "small"),
    [
        ("no regularizer helps", {c: _cell(0.9820, 0.9818) for c in SMALL}),
        (
            "the chosen gain is inside the noise",
            SMALL | {"augmentation": _cell(0.99, 0.9830, 0.006)},
        ),
        ("the chosen regularizer hurts on test", SMALL | {"augmentation": _cell(0.99, 0.9700)}),
    ],
)
def test_regularization_without_a_real_gain_fails(why: str, small: dict) -> None:
    statuses = _statuses(REGULARIZATION, GOOD | {"table": _table(small, LARGE)})
    assert statuses[0] == PASS and statuses[1] == FAIL, why
    assert statuses[2] == FAIL, why


def test_a_gain_as_large_on_the_full_set_is_not_more_when_small() -> None:
    """Any increase is not enough: the small-set gain must beat the large-set gain by min_z
    standard errors of the difference."""
    large = LARGE | {"augmentation": _cell(0.9950, 0.9940, 0.0005)}  # +0.36 vs +0.44 on 5k
    assert _statuses(REGULARIZATION, GOOD | {"table": _table(SMALL, large)}) == [PASS, PASS, FAIL]


def test_a_study_too_small_to_measure_is_not_judged_a_pass() -> None:
    # one seed: no spread, so no standard error; the first criterion fails on the seeds
    one_seed = {c: {**s, "n": 1, "std": 0.0, "val_std": 0.0} for c, s in SMALL.items()}
    one_seed_large = {c: {**s, "n": 1, "std": 0.0, "val_std": 0.0} for c, s in LARGE.items()}
    statuses = _statuses(
        REGULARIZATION, {"cells": 10, "table": _table(one_seed, one_seed_large)}, "seeds=1"
    )
    assert statuses == [FAIL, NOT_MEASURED, NOT_MEASURED]
    # a single training-set size cannot show that regularization matters more when small
    single = _judge(REGULARIZATION, {"cells": 15, "table": _table(SMALL)}, "train_sizes=5000")
    assert [v.status for _, v in single.verdicts] == [PASS, PASS, NOT_MEASURED]
    assert single.status == INCOMPLETE
    # cells missing (an interrupted study)
    assert _statuses(REGULARIZATION, GOOD | {"cells": 29})[0] == FAIL
    # a table without validation figures cannot choose a winner
    no_val = {c: {k: v for k, v in s.items() if not k.startswith("val")} for c, s in SMALL.items()}
    assert _statuses(REGULARIZATION, GOOD | {"table": _table(no_val, LARGE)})[1:] == [
        NOT_MEASURED,
        NOT_MEASURED,
    ]


def test_regularization_labels_show_the_bar_the_run_used() -> None:
    labels = [label for label, _ in _judge(REGULARIZATION, GOOD).verdicts]
    assert "at least 3 seeds" in labels[0]
    assert all("> 2 standard errors" in label for label in labels[1:])
    # a stricter bar: the good study's small-set gain (4.9 SE) no longer clears 5 SE
    strict = _judge(REGULARIZATION, GOOD, "min_z=5")
    assert all("> 5 standard errors" in label for label, _ in strict.verdicts[1:])
    assert strict.verdicts[1][1].status == FAIL


def test_validation_images_are_never_trained_on() -> None:
    with pytest.raises(
        ConfigError, match=r"every train size must be at most 60000 - val_size = 50000"
    ):
        REGULARIZATION.config("quick", ["train_sizes=5000,55000"])
    cell = config.PRESETS["regularization"]["quick"].cell_config("augmentation", 50_000, 0)
    assert cell.train_size + cell.val_size == 60_000 and cell.augment == 2
