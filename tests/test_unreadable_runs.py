"""Torn or foreign files never take down an overview (`dlc list`, `dlc progress`, `dlc site
build`), and a rebuild of the site never loses the page of a run it cannot read now.

Run folders are planted by hand, as `dlc run` writes them: config.json, summary.json,
criteria.json, metrics.jsonl, report.md and a figure.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlcurriculum import catalog, progress
from dlcurriculum.site import build_site, run_page

RUN_FILES = ("config.json", "summary.json", "criteria.json")
TORN = '{"wa'
"""What a crash leaves of a JSON file: `not valid JSON (line 1 column 2)`."""


def dlc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlcurriculum", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "300"},
    )


def plant_run(root: Path, name: str, experiment: str = "mnist") -> Path:
    """A finished mnist run judged PASS, with its report, metrics and a figure."""
    run = root / experiment / name
    (run / "figures").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"experiment": experiment, "preset": "quick"}))
    (run / "summary.json").write_text(json.dumps({"wall_time_s": 2.5, "accuracy": 0.97}))
    criterion = {"criterion": "accuracy >= 0.9", "status": "PASS", "measured": "0.97"}
    judged = {"status": "PASS", "criteria": [criterion], "not_run": []}
    (run / "criteria.json").write_text(json.dumps(judged))
    (run / "metrics.jsonl").write_text('{"step": 1, "losses/train": 0.5}\n')
    (run / "figures" / "loss.png").write_bytes(b"\x89PNG fake")
    (run / "report.md").write_text("# Report\n\n![loss](figures/loss.png)\n")
    return run


def tear(run: Path, name: str) -> None:
    (run / name).write_text(TORN)


def test_each_run_file_that_cannot_be_read_makes_the_run_unreadable(tmp_path: Path) -> None:
    run = plant_run(tmp_path, "r1")
    assert progress.read_run(run).verdict == "PASS"
    cases = {
        TORN: "not valid JSON (line 1 column 2)",
        "[1, 2]": "an array, not a JSON object",
        "null": "null, not a JSON object",
        "3": "a number, not a JSON object",
        b"\xff\xfe{}": "not UTF-8 text",
    }
    for name in RUN_FILES:
        saved = (run / name).read_bytes()
        for content, why in cases.items():
            if name == "criteria.json" and content == "[1, 2]":
                continue  # an older run's list of criteria: not reported, see below
            data = content if isinstance(content, bytes) else content.encode()
            (run / name).write_bytes(data)
            info = progress.read_run(run)
            assert info.unreadable == f"{name}: {why}", (name, content)
            assert info.status == info.verdict == "unreadable" and not info.passed
            assert info.summary == {} and info.criteria == []  # nothing that may be wrong
        (run / name).unlink()
        (run / name).mkdir()  # a folder in its place
        assert progress.read_run(run).unreadable == f"{name}: a folder, not a file"
        (run / name).rmdir()
        (run / name).write_bytes(saved)
    assert progress.read_run(run).verdict == "PASS"


def test_missing_files_mean_a_run_in_progress_and_old_criteria_are_not_judged(
    tmp_path: Path,
) -> None:
    run = plant_run(tmp_path, "r1")
    (run / "criteria.json").write_text('[{"criterion": "x", "passed": true}]')
    info = progress.read_run(run)
    assert info.status == "not reported" and not info.unreadable
    (run / "criteria.json").write_text('{"criteria": [1]}')
    assert progress.read_run(run).unreadable == 'criteria.json: "criteria" is not a list of objects'
    (run / "criteria.json").unlink()
    (run / "summary.json").unlink()
    info = progress.read_run(run)
    assert info.status == "unfinished" and not info.unreadable
    assert info.experiment == "mnist" and info.config["preset"] == "quick"


def test_a_torn_config_keeps_the_run_under_its_folder_name(tmp_path: Path) -> None:
    plant_run(tmp_path, "r1")
    tear(plant_run(tmp_path, "r2", experiment="nqm"), "config.json")
    r1, r2 = progress.find_runs(tmp_path)
    assert r1.passed and r2.experiment == "nqm" and r2.name == "r2"
    assert progress.runs_status(catalog.get_chapter(4), tmp_path) == "nqm unreadable"
    assert progress.runs_status(catalog.get_chapter(0), tmp_path) == "mnist PASS"


@pytest.mark.parametrize("torn", RUN_FILES)
def test_overviews_show_an_unreadable_run_and_carry_on(torn: str, tmp_path: Path) -> None:
    root, ws = tmp_path / "runs", tmp_path / "ws"
    good = plant_run(root, "r1")
    tear(plant_run(root, "r2"), torn)
    (ws / catalog.get_chapter(0).slug).mkdir(parents=True)
    why = f"mnist r2: {torn}: not valid JSON (line 1 column 2)"

    listing = dlc("list", "--dir", "ws", "--runs", "runs", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert f"unreadable {why}" in listing.stdout and "mnist unreadable" in listing.stdout
    assert "Order of importance" in listing.stdout  # and everything else is still there

    state = dlc("progress", "--dir", "ws", "--runs", "runs", cwd=tmp_path)
    assert state.returncode == 0, state.stderr
    assert f"unreadable {why}" in state.stdout and "Next: chapter 0" in state.stdout

    site = dlc("site", "build", "--runs", "runs", "--out", "site", cwd=tmp_path)
    assert site.returncode == 0, site.stderr
    assert f"unreadable {why}" in site.stdout
    runs_html = (tmp_path / "site" / "runs.html").read_text()
    assert f"{torn}: not valid JSON (line 1 column 2)." in runs_html
    assert f'href="{run_page(good)}"' in runs_html  # the readable run is there, linked
    assert not (tmp_path / "site" / run_page(root / "mnist" / "r2")).exists()  # no page yet
    assert "r2" in runs_html and 'href="runs/mnist/r2/' not in runs_html


def test_a_torn_checks_file_shows_as_unreadable_checks(tmp_path: Path) -> None:
    ch0 = catalog.get_chapter(0)
    (tmp_path / "ws" / ch0.slug).mkdir(parents=True)
    checks = tmp_path / "ws" / ch0.slug / progress.RESULTS
    checks.write_text('{"files": "ab')
    why = "unreadable checks (.dlc-checks.json: not valid JSON (line 1 column 11))"
    for command in ("list", "progress"):
        result = dlc(command, "--dir", "ws", "--runs", "runs", cwd=tmp_path)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert why in result.stdout, command
    checks.write_text('{"files": "ab", "results": ["mnist"]}')
    assert progress.checks_status(ch0, tmp_path / "ws") == (
        "unreadable checks (.dlc-checks.json: not a record `dlc check` wrote)"
    )
    assert progress.check_counts(ch0, tmp_path / "ws") is None


def test_the_site_keeps_the_page_of_a_run_it_cannot_read_now(tmp_path: Path) -> None:
    root, site = tmp_path / "runs", tmp_path / "site"
    run = plant_run(root, "r1")
    build_site(root, site)
    page = site / run_page(run)
    before = {p.relative_to(page.parent): p.read_bytes() for p in page.parent.rglob("*.*")}
    assert {"index.html", "figures/loss.png"} <= {p.as_posix() for p in before}
    for torn in RUN_FILES:
        saved = (run / torn).read_text()
        tear(run, torn)
        for _ in range(2):  # kept by the build after, and by the one after that
            pages = build_site(root, site)
            after = {p.relative_to(page.parent): p.read_bytes() for p in page.parent.rglob("*.*")}
            assert after == before and page in pages
            runs_html = (site / "runs.html").read_text()
            assert f'href="{run_page(run)}"' in runs_html
            why = f"{torn}: not valid JSON (line 1 column 2). The page is from an earlier build."
            assert why in runs_html
            assert f'href="{run_page(run)}"' in (site / "index.html").read_text()
        (run / torn).write_text(saved)
    (run / "report.md").write_text("# Rewritten\n")
    build_site(root, site)  # readable again: the page is made anew
    assert "Rewritten" in page.read_text()


def test_a_run_file_that_cannot_be_copied_keeps_the_old_page(tmp_path: Path) -> None:
    root, site = tmp_path / "runs", tmp_path / "site"
    run = plant_run(root, "r1")
    build_site(root, site)
    old = (site / run_page(run)).read_text()
    (run / "figures" / "loss.png").unlink()
    (run / "figures" / "loss.png").mkdir()  # a figure that cannot be copied
    build_site(root, site)
    assert (site / run_page(run)).read_text() == old
    assert "loss.png: Is a directory" in (site / "runs.html").read_text()


def test_foreign_report_metrics_and_wall_time_do_not_break_a_page(tmp_path: Path) -> None:
    root, site = tmp_path / "runs", tmp_path / "site"
    run = plant_run(root, "r1")
    (run / "report.md").write_bytes(b"\xff not text")
    (run / "argv.txt").write_bytes(b"\xff not text")
    (run / "metrics.jsonl").write_bytes(b'{"step": 1, "loss": 0.5}\n\xff\n')
    (run / "summary.json").write_text('{"wall_time_s": "soon"}')
    odd = {"criterion": "odd", "status": ["PASS"], "measured": {"a": 1}}
    (run / "criteria.json").write_text(json.dumps({"status": "PASS", "criteria": [odd]}))
    build_site(root, site)
    html = (site / run_page(run)).read_text()
    assert "<h2>Report</h2>" not in html
    # a line that is not UTF-8 costs only that line: the good row is still in the table
    assert '<td class="num">0.5</td>' in html and "cannot be read" not in html
    assert "soon" in html and "wall time" not in html
    assert '<span class="badge other">[&#x27;PASS&#x27;]</span> odd' in html


FILE_FOR_FOLDER = [
    (["list", "--dir", "notes.txt"], "--dir notes.txt is a file: give the workspace folder"),
    (["list", "--runs", "notes.txt"], "--runs notes.txt is a file: give the folder that holds"),
    (["progress", "--dir", "notes.txt"], "--dir notes.txt is a file: give the workspace folder"),
    (["progress", "--runs", "notes.txt"], "--runs notes.txt is a file: give the folder that"),
    (["check", "0", "--dir", "notes.txt"], "--dir notes.txt is a file: give the workspace folder"),
    (["site", "build", "--runs", "notes.txt"], "--runs notes.txt is a file: give the folder"),
]


@pytest.mark.parametrize(("args", "message"), FILE_FOR_FOLDER)
def test_a_file_where_a_folder_is_expected_is_one_error(
    args: list[str], message: str, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = dlc(*args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[0].startswith(f"error: {message}")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]  # nothing created
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_missing_folders_are_an_empty_overview_and_nothing_is_created(tmp_path: Path) -> None:
    for command in ("list", "progress"):
        result = dlc(command, "--dir", "ws", "--runs", "runs", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    check = dlc("check", "0", "--dir", "ws", cwd=tmp_path)
    assert check.returncode == 1 and "does not exist" in check.stdout
    assert list(tmp_path.iterdir()) == []
