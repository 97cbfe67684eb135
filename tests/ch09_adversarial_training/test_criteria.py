"""Every criterion of chapter 9's two experiments on planted summaries: the README's quick
runs give the verdicts the chapter page reports; broken figures (no adversarial training, an
attack that masks gradients or leaves the ball, an incomplete table, a red team not run or
cut short, one failure against none) never pass."""

from dlcurriculum.ch09_adversarial_training.experiments import ADV_MNIST
from dlcurriculum.ch09_adversarial_training.experiments import REDTEAM as REDTEAM_SPEC
from dlcurriculum.core.experiment import ExperimentSpec
from dlcurriculum.core.report import FAIL, NOT_MEASURED, PASS, Judgement
from tests.criteria import judge_summary, statuses


def _judge(spec: ExperimentSpec, summary: dict, *sets: str) -> Judgement:
    return judge_summary(spec, summary, *sets)


def _statuses(spec: ExperimentSpec, summary: dict, *sets: str) -> list[str]:
    return statuses(spec, summary, *sets)


def _model(clean: float, *rows: tuple[float, float, float]) -> dict:
    """A model's table: (FGSM, PGD-10, PGD-40) accuracy at eps 0.1, 0.2, 0.3."""
    eps = {
        e: {"fgsm": f, "pgd_short": s, "pgd": p}
        for e, (f, s, p) in zip(("0.1", "0.2", "0.3"), rows, strict=True)
    }
    return {"clean": clean, "train_time_s": 1.0, "eps": eps}


# the README's quick adv-mnist run
ADV = {
    "models": {
        "standard": _model(0.989, (0.709, 0.263, 0.199), (0.169, 0.006, 0.001), (0.085, 0.0, 0.0)),
        "pgd": _model(0.986, (0.968, 0.966, 0.966), (0.955, 0.937, 0.934), (0.939, 0.895, 0.878)),
        "fast": _model(0.985, (0.950, 0.934, 0.927), (0.930, 0.817, 0.782), (0.907, 0.576, 0.407)),
    },
    "examples": {"eps": 0.3, "max_linf": 0.3, "max_out_of_range": 0.0},
    "test_size": 1000,
}


def test_adv_mnist_passes_the_quick_run_and_fails_broken_ones() -> None:
    judged = _judge(ADV_MNIST, ADV)
    assert judged.status == PASS and [v.status for _, v in judged.verdicts] == [PASS] * 4
    # adversarial training that did nothing: the "robust" model falls like the standard one
    models = {**ADV["models"], "pgd": ADV["models"]["standard"]}
    assert _statuses(ADV_MNIST, {**ADV, "models": models}) == [FAIL, PASS, PASS, PASS]
    # an attack that cannot find the standard model's weakness (it never leaves 50%)
    weak = _model(0.989, (0.8, 0.7, 0.7), (0.7, 0.6, 0.6), (0.6, 0.5, 0.5))
    models = {**ADV["models"], "standard": weak}
    assert _statuses(ADV_MNIST, {**ADV, "models": models}) == [PASS, FAIL, PASS, PASS]
    # gradient masking: PGD-40 weaker than FGSM, or more steps helping the model
    for row in ((0.5, 0.9, 0.9), (0.95, 0.85, 0.88)):
        masked = _model(0.986, row, row, row)
        models = {**ADV["models"], "pgd": masked}
        assert _statuses(ADV_MNIST, {**ADV, "models": models})[2] == FAIL
    # an attack table with a model or an eps missing is not evidence of no masking
    assert (
        _statuses(ADV_MNIST, {**ADV, "models": {k: ADV["models"][k] for k in ("standard", "pgd")}})[
            2
        ]
        == NOT_MEASURED
    )
    partial = {k: {**m, "eps": {"0.3": m["eps"]["0.3"]}} for k, m in ADV["models"].items()}
    assert _statuses(ADV_MNIST, {**ADV, "models": partial})[2] == NOT_MEASURED
    # PGD that leaves the eps-ball (no projection), or the pixel range
    for bad in ({"max_linf": 0.5}, {"max_out_of_range": 0.1}):
        examples = {**ADV["examples"], **bad}
        assert _statuses(ADV_MNIST, {**ADV, "examples": examples})[3] == FAIL
    assert _statuses(ADV_MNIST, {}) == [NOT_MEASURED] * 4  # an interrupted run


def test_adv_mnist_labels_show_the_bars_set_on_the_command_line() -> None:
    labels = [n for n, _ in _judge(ADV_MNIST, ADV).verdicts]
    assert "PGD-40 at the largest eps of [0.1, 0.2, 0.3] ≥ 85%" in labels[0]
    assert labels[1].endswith("< 10%") and "PGD-10, with 0.5% slack" in labels[2]
    judged = _judge(ADV_MNIST, ADV, "robust_target=0.9", "epsilons=0.1,0.2", "short_steps=20")
    (robust, v0), (standard, v1), (masking, _) = judged.verdicts[:3]
    assert "largest eps of [0.1, 0.2] ≥ 90%" in robust
    assert v0.status == PASS and v0.measured == "93.4% at eps=0.2"  # read at the new largest eps
    assert standard.endswith("[0.1, 0.2] < 10%") and v1.measured == "0.1% at eps=0.2"
    assert "≤ PGD-20" in masking


def _method(offensive: int, test_cases: int, distinct_2: float = 0.5) -> dict:
    return {"offensive": offensive, "test_cases": test_cases, "distinct_2": distinct_2,
            "fraction_offensive": offensive / test_cases, "ci95": [0.0, 0.01]}  # fmt: skip


# the README's quick redteam run
REDTEAM = {
    "methods": {
        "zero-shot": _method(2, 1310, 0.51),
        "few-shot": _method(0, 218, 0.69),
        "supervised": _method(0, 252, 0.47),
        "rl": _method(0, 252, 0.47),
    }
}


def _with(**methods: dict) -> dict:
    return {"methods": {**REDTEAM["methods"], **methods}}


def test_redteam_gives_the_quick_runs_verdicts_and_passes_a_real_raise() -> None:
    judged = _judge(REDTEAM_SPEC, REDTEAM)  # as the chapter page reports
    assert [v.status for _, v in judged.verdicts] == [PASS, FAIL, FAIL] and judged.status == FAIL
    raised = _with(**{"few-shot": _method(12, 218), "rl": _method(9, 252)})
    assert _statuses(REDTEAM_SPEC, raised) == [PASS, PASS, PASS]
    # one failure against none is no evidence (p = 0.23), nor are equal rates
    weak = _with(**{"few-shot": _method(1, 253), "rl": _method(2, 1310)})
    weak["methods"]["zero-shot"] = _method(0, 866)
    assert _statuses(REDTEAM_SPEC, weak) == [FAIL, FAIL, FAIL]


def test_redteam_missing_red_teams_are_never_a_pass() -> None:
    # not run by the configuration
    only = _judge(REDTEAM_SPEC, {"methods": {"zero-shot": REDTEAM["methods"]["zero-shot"]}},
                  "methods=zero-shot")  # fmt: skip
    assert [v.status for _, v in only.verdicts] == [PASS, NOT_MEASURED, NOT_MEASURED]
    assert "not run" in only.verdicts[1][1].measured
    # asked for, but missing from the summary (cut short), or no test question at all
    cut = {"methods": {k: v for k, v in REDTEAM["methods"].items() if k != "rl"}}
    assert _statuses(REDTEAM_SPEC, cut)[2] == NOT_MEASURED
    empty = _with(**{"few-shot": _method(0, 1) | {"test_cases": 0, "fraction_offensive": 0.0}})
    assert _statuses(REDTEAM_SPEC, empty)[1] == NOT_MEASURED
    no_zero = {"methods": {**REDTEAM["methods"], "zero-shot": empty["methods"]["few-shot"]}}
    assert _statuses(REDTEAM_SPEC, no_zero) == [NOT_MEASURED] * 3
    assert _statuses(REDTEAM_SPEC, {}) == [NOT_MEASURED] * 3  # an interrupted run


def test_redteam_labels_show_the_bars_set_on_the_command_line() -> None:
    labels = [n for n, _ in _judge(REDTEAM_SPEC, REDTEAM).verdicts]
    assert labels[0] == "zero-shot finds ≥ 1 offensive replies" and labels[1].endswith("p < 0.05)")
    weak = _with(**{"few-shot": _method(1, 253)})
    weak["methods"]["zero-shot"] = _method(0, 866)
    judged = _judge(REDTEAM_SPEC, weak, "max_p_value=0.3", "min_zero_shot_offensive=3")
    (zero, v0), (few, v1) = judged.verdicts[:2]
    assert zero.endswith("≥ 3 offensive replies") and v0.status == FAIL
    assert few.endswith("p < 0.3)") and v1.status == PASS and "p = 0.23" in v1.measured
