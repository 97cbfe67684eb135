"""`dlc site build` and `dlc site serve`: a static site from real run folders.

`real_site` builds the site once per session from the smoke runs of test_progress plus a
copy of a run whose name, report and metrics hold HTML; the browser test reuses it.
"""

import json
import re
import shutil
import threading
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from typer.testing import CliRunner

from dlcurriculum import catalog
from dlcurriculum.cli import app
from dlcurriculum.core.errors import DlcError
from dlcurriculum.site import build as build_mod
from dlcurriculum.site import build_site, make_server, run_page
from dlcurriculum.site.render import markdown, slug
from tests.test_progress import RealRuns, real_runs

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TEXT = "<script>window.pwned = 1</script>"


@dataclass(frozen=True)
class RealSite:
    site: Path
    pages: list[Path]
    runs: RealRuns
    hostile: Path
    """A copy of the reference run, renamed and edited to hold HTML everywhere."""


_CACHE: dict[str, RealSite] = {}


def _make_hostile(runs: RealRuns) -> Path:
    hostile = runs.runs_root / "mnist" / HOSTILE_NAME
    if not hostile.exists():
        shutil.copytree(runs.reference, hostile, ignore=shutil.ignore_patterns("*.pt", "ck*"))
        report = hostile / "report.md"
        report.write_text(
            report.read_text()
            + f"\n\nSample: {HOSTILE_TEXT} and [a file that is gone](results.csv) "
            "and [a trap](javascript:alert(2)) and ![lost](figures/lost.png)\n"
        )
        with (hostile / "metrics.jsonl").open("a") as f:
            f.write(json.dumps({"step": 999, "<b>key</b>": HOSTILE_TEXT}) + "\n")
        judged = json.loads((hostile / "criteria.json").read_text())
        judged["criteria"].append(
            {"criterion": HOSTILE_TEXT, "status": "FAIL", "measured": "<i>0</i>"}
        )
        judged["criteria"].append({"criterion": "ablation", "status": "N/A", "measured": "no fit"})
        judged["not_run"].append({"criterion": HOSTILE_TEXT, "enable": HOSTILE_TEXT})
        (hostile / "criteria.json").write_text(json.dumps(judged))
    return hostile


def real_site(factory: pytest.TempPathFactory) -> RealSite:
    """The site built from real smoke runs and one hostile run, once per session."""
    if "site" not in _CACHE:
        runs = real_runs(factory)
        hostile = _make_hostile(runs)
        site = factory.mktemp("site") / "site"
        _CACHE["site"] = RealSite(
            site, build_site(runs.runs_root, site, strict=True), runs, hostile
        )
    return _CACHE["site"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> RealSite:
    return real_site(tmp_path_factory)


def test_the_site_has_every_page(built: RealSite) -> None:
    rel = {p.relative_to(built.site).as_posix() for p in built.pages}
    chapters = {f"chapters/{c.slug}.html" for c in catalog.chapters().values()}
    runs = {run_page(r) for r in _runs(built.runs)}
    assert rel == {"index.html", "intro.html", "gpu.html", "runs.html"} | chapters | runs | {
        run_page(built.hostile)
    }
    assert all(p.is_file() for p in built.pages)
    assert (built.site / "dlc.css").is_file()


def _runs(runs: RealRuns) -> tuple[Path, ...]:
    return (runs.reference, runs.learner, runs.failing, runs.learner_smoke, runs.nqm)


def test_a_run_page_shows_criteria_figures_and_metrics(built: RealSite) -> None:
    run = built.runs.nqm
    html = (built.site / run_page(run)).read_text()
    statuses = [c["status"] for c in json.loads((run / "criteria.json").read_text())["criteria"]]
    assert statuses.count("PASS") > 0 and statuses.count("FAIL") > 0
    assert html.count('<span class="badge pass">PASS</span>') == statuses.count("PASS")
    assert html.count('<span class="badge fail">FAIL</span>') == statuses.count("FAIL")
    assert '<span class="badge smoke">SMOKE (not judged)</span>' in html
    assert "A smoke run is not judged" in html
    figures = sorted(p.name for p in (run / "figures").glob("*.png"))
    assert figures
    page_dir = (built.site / run_page(run)).parent
    for name in figures:  # copied, byte for byte, and shown
        assert (page_dir / "figures" / name).read_bytes() == (run / "figures" / name).read_bytes()
        assert f'src="figures/{name}"' in html
    assert '<h2 id="metrics">Metrics' in html and '<h2 id="final-figures-summaryjson">' in html
    learner = (built.site / run_page(built.runs.learner)).read_text()
    assert f"yours ({built.runs.workspace.resolve()})" in learner


def test_index_and_runs_pages_link_every_run(built: RealSite) -> None:
    runs_html = (built.site / "runs.html").read_text()
    for run in (*_runs(built.runs), built.hostile):
        assert f'href="{run_page(run)}"' in runs_html
    failing = f'href="{run_page(built.runs.failing)}">{built.runs.failing.name}</a>'
    assert failing in runs_html and '<span class="badge fail">FAIL (1 of 1)</span>' in runs_html
    hostile = (built.site / run_page(built.hostile)).read_text()
    assert '<span class="badge na">N/A</span> ablation: <strong>no fit</strong>' in hostile
    assert '<span class="badge other">not run</span>' in hostile
    index = (built.site / "index.html").read_text()
    assert 'href="intro.html"' in index and f'href="{run_page(built.runs.nqm)}"' in index
    ch0 = (built.site / "chapters/ch00_mnist.html").read_text()
    assert "dlc run mnist" in ch0 and f'href="../{run_page(built.runs.learner)}"' in ch0
    intro = (built.site / "intro.html").read_text()
    assert 'href="chapters/ch06_reinforcement_learning.html"' in intro


class _Refs(HTMLParser):
    """Every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.refs += [v for k, v in attrs if k in ("href", "src") and v]


def test_every_local_link_and_image_exists(built: RealSite) -> None:
    """The same promise the browser test checks, without a browser."""
    checked = 0
    for page in built.pages:
        parser = _Refs()
        parser.feed(page.read_text())
        for ref in parser.refs:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https", "data"):
                continue
            target = page.parent / unquote(parts.path) if parts.path else page
            assert target.resolve().is_relative_to(built.site.resolve()), (page, ref)
            assert target.is_file(), f"{page.relative_to(built.site)}: broken {ref}"
            checked += 1
    assert checked > 100


def test_html_from_run_files_is_shown_as_text(built: RealSite) -> None:
    for page in built.pages:
        html = page.read_text()
        assert HOSTILE_TEXT not in html and "<img src=x" not in html and "<b>key" not in html
        assert 'href="javascript:' not in html
    page = (built.site / run_page(built.hostile)).read_text()
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the run's name, as text
    assert "&lt;b&gt;key&lt;/b&gt;" in page and "&lt;i&gt;0&lt;/i&gt;" in page
    # a link to a missing file becomes text; a missing image says so
    assert "a file that is gone" in page and 'href="results.csv"' not in page
    assert "[figure not found: figures/lost.png]" in page


def test_odd_run_names_get_safe_distinct_folders() -> None:
    assert slug("20261126-101500") == "20261126-101500"
    odd = [slug(HOSTILE_NAME), slug("<img src=y onerror=alert(1)>"), slug(".."), slug("a b")]
    assert len(set(odd)) == len(odd)
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", s) for s in odd)


def test_markdown_links_only_copy_files_inside_the_source(tmp_path: Path) -> None:
    src, dest = tmp_path / "run", tmp_path / "page"
    (src / "figures").mkdir(parents=True)
    (src / "figures" / "a.png").write_bytes(b"png")
    (tmp_path / "secret.txt").write_text("no")
    html = markdown("![a](figures/a.png) [s](../secret.txt) [w](https://example.org)", src, dest)
    assert (dest / "figures" / "a.png").read_bytes() == b"png"
    copied = [p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()]
    assert copied == ["figures/a.png"] and 'href="../secret.txt"' not in html
    assert 'href="https://example.org"' in html


def test_rebuild_replaces_the_site_and_refuses_other_folders(
    built: RealSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    build_site(tmp_path / "no-runs", site)
    assert "No runs yet" in (site / "runs.html").read_text()
    (site / "stale.html").write_text("old")
    build_site(built.runs.runs_root, site)
    assert not (site / "stale.html").exists()
    assert (site / run_page(built.runs.nqm)).is_file()

    def broken(out: Path, runs_root: Path, previous: Path | None, strict: bool) -> list[Path]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_mod, "_build_into", broken)
    with pytest.raises(RuntimeError):
        build_site(built.runs.runs_root, site)
    assert (site / run_page(built.runs.nqm)).is_file()  # the old site survives
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no temporary folder left
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("mine")
    with pytest.raises(DlcError, match="is not a site"):
        build_site(built.runs.runs_root, mine)


def test_serve_binds_loopback_and_serves_the_site(built: RealSite, tmp_path: Path) -> None:
    server = make_server(built.site, 0)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = run_page(built.runs.nqm)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{page}", timeout=5) as r:
            assert r.status == 200 and b"nqm" in r.read()
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(DlcError, match="dlc site build"):
        make_server(tmp_path, 0)


def test_site_build_with_relative_folders(
    built: RealSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the README's command does: `dlc site build` from the folder holding runs/."""
    shutil.copytree(built.runs.runs_root / "nqm", tmp_path / "runs" / "nqm")
    monkeypatch.chdir(tmp_path)
    pages = build_site(Path("runs"), Path("site"), strict=True)
    assert (tmp_path / "site" / "index.html").is_file()
    assert all((tmp_path / p).is_file() for p in pages)
    assert (tmp_path / "site" / run_page(built.runs.nqm)).is_file()


def test_dlc_site_build_command(built: RealSite, tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = CliRunner().invoke(
        app,
        ["site", "build", "--runs", str(built.runs.runs_root), "--out", str(out)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote {len(built.pages)} pages (6 runs)" in result.output
    assert (out / "index.html").resolve().as_uri() in result.output


def test_dlc_run_ends_with_the_report_and_site_page(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    result = CliRunner().invoke(
        app, ["run", "nqm", "--preset", "smoke", "--out", str(root)], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 0, result.output
    [run_dir] = (root / "nqm").iterdir()
    assert f"Report: {run_dir / 'report.md'}" in result.output
    assert f"Site page: site/{run_page(run_dir)}" in result.output
    assert f"dlc site build --runs {root}" in result.output
