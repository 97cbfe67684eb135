"""Every experiment's smoke preset passes its criteria; the same seed gives the same metrics."""

from pathlib import Path

import pytest

from dlcurriculum.ch03_training_at_scale import experiments
from dlcurriculum.core.experiment import ExperimentSpec, launch
from dlcurriculum.core.runs import read_metrics

SPECS = [
    experiments.DP_MNIST_SPEC,
    experiments.DP_TRANSFORMER_SPEC,
    experiments.PIPELINE_SPEC,
    experiments.TENSOR_PARALLEL_SPEC,
]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_smoke_passes_and_reports(spec: ExperimentSpec, tmp_path: Path) -> None:
    result, verdicts = launch(spec, spec.presets["smoke"], "smoke", tmp_path)
    assert all(v.passed for _, v in verdicts), verdicts
    assert (result.run_dir / "report.md").exists()
    assert (result.run_dir / "figures" / "learning_curves.png").exists()
    keys = set(read_metrics(result.run_dir)[0])
    assert {"losses/single", "losses/parallel"} <= keys
    if spec.name.startswith("dp-"):
        assert "losses/control" in keys  # the float-noise control run
        assert result.summary["steps_outside_noise"] == 0


def test_same_seed_same_metrics(tmp_path: Path) -> None:
    spec = experiments.TENSOR_PARALLEL_SPEC
    a, _ = launch(spec, spec.presets["smoke"], "smoke", tmp_path / "a")
    b, _ = launch(spec, spec.presets["smoke"], "smoke", tmp_path / "b")
    assert read_metrics(a.run_dir) == read_metrics(b.run_dir)


def test_indivisible_batch_is_a_clear_config_error() -> None:
    from dlcurriculum.core.errors import DlcError

    with pytest.raises(DlcError, match="not divisible by world_size=3"):
        experiments.DP_MNIST_SPEC.config("smoke", ["world_size=3"])
