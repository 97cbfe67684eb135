"""The golden comparison sees a moved figure and ignores the clock."""

import json
import math

from tests.golden import GOLDEN, comparable, differences


def test_a_moved_figure_is_reported_and_clock_readings_are_not() -> None:
    golden = json.loads((GOLDEN / "mnist.json").read_text())
    key = next(k for k, v in golden.items() if isinstance(v, float))
    summary: dict = {}
    for path, value in golden.items():  # rebuild a nested summary from the dotted paths
        node = summary
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    summary["wall_time_s"] = 123.0
    assert differences("mnist", summary) == []
    node = summary
    *parents, leaf = key.split(".")
    for part in parents:
        node = node[part]
    node[leaf] += 1e-3
    assert [d.split(":")[0] for d in differences("mnist", summary)] == [key]


def test_lists_are_indexed_and_the_clock_left_out() -> None:
    figures = comparable({"a": [1.0, float("nan")], "steps_per_s": 9.0, "time": 1, "sps": 3})
    assert sorted(figures) == ["a.0", "a.1"] and math.isnan(figures["a.1"])
