"""Judge planted summaries against an experiment's criteria, as `dlc report` would: the
config is a preset with `--set` assignments, read back as config.json holds it."""

import json
from pathlib import Path
from typing import Any

from dlcurriculum.core.config import to_dict
from dlcurriculum.core.experiment import ExperimentSpec
from dlcurriculum.core.report import Judgement, RunRecord, judge_run


def judge_summary(
    spec: ExperimentSpec,
    summary: dict[str, Any],
    *sets: str,
    preset: str = "quick",
    run_dir: Path = Path("."),
) -> Judgement:
    """The judgement of a run of `spec` (preset + `--set` assignments) that wrote `summary`."""
    config = {"experiment": spec.name, "preset": preset, **to_dict(spec.config(preset, sets))}
    config = json.loads(json.dumps(config))  # as read back from config.json: tuples are lists
    return judge_run(RunRecord(run_dir, config, [], summary), spec.criteria)


def statuses(spec: ExperimentSpec, summary: dict[str, Any], *sets: str, **kw: Any) -> list[str]:
    """PASS, FAIL or N/A of each criterion that applies."""
    return [v.status for _, v in judge_summary(spec, summary, *sets, **kw).verdicts]
