"""`dlc site build`: the curriculum and every run as a static site that opens without a server.

Layout of the site folder:

    index.html                         chapters, and the latest run of each experiment
    intro.html                         the front matter
    runs.html                          every run, grouped by experiment
    chapters/<slug>.html               each chapter page (catalog record + README)
    runs/<experiment>/<run>/index.html each run: criteria, report, figures, metrics
    runs/<experiment>/<run>/figures/   the figures, copied

The site is built in a temporary folder next to `out` and swapped in whole, so a failed
build leaves the previous site intact. A run that cannot be read (a torn config.json,
summary.json or criteria.json) is listed with the reason, and keeps the page the previous
build made of it: a rebuild never loses a page it cannot make again.
"""

import dataclasses
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from dlcurriculum import catalog
from dlcurriculum.core.errors import DlcError
from dlcurriculum.pages import intro_markdown
from dlcurriculum.progress import RUNS_FIX, RunInfo, find_runs, require_folder
from dlcurriculum.site.chapter import chapter_page
from dlcurriculum.site.generator import Fragments, Page, build
from dlcurriculum.site.render import esc, href, slug
from dlcurriculum.site.runs import (
    by_experiment,
    chapter_page_path,
    run_link,
    run_page,
    run_page_md,
    runs_list,
    verdict_badge,
)

MARKER = ".dlc-site"
"""A file that marks a folder as a site dlc built, so a rebuild may replace it."""
EXTRA_PAGES = (("Running on a GPU", "gpu.md"),)
"""Pages of the package (src/dlcurriculum/<file>) shown after the chapters."""


def _runs_index(runs: list[RunInfo], runs_root: Path, linked: set[str], page: Page) -> None:
    page.md("# Runs")
    page.html(f"<p class='muted'>Found under {esc(runs_root)}.</p>")
    if not runs:
        page.md("No runs yet: try `dlc run mnist --preset quick`, then `dlc site build` again.")
    for name, group in by_experiment(runs).items():
        entry = catalog.experiments().get(name)
        summary = f"<p class='muted'>{esc(entry.summary)}</p>" if entry else ""
        page.html(f'<h2 id="{esc(slug(name))}">{esc(name)}</h2>{summary}')
        page.html(runs_list(group, "", linked))


def _index(runs: list[RunInfo], linked: set[str], page: Page) -> None:
    groups = by_experiment(runs)
    rows = []
    for ch in catalog.chapters().values():
        exps = []
        for e in ch.experiments:
            latest = groups.get(e.name, [])
            if latest:
                link = run_link(latest[-1], "", linked, e.name)
                exps.append(f"{link} {verdict_badge(latest[-1])}")
            else:
                exps.append(f"{esc(e.name)} <span class='muted'>(no run)</span>")
        rows.append(
            f"<tr><td>{ch.number}</td><td><a href='{href(chapter_page_path(ch))}'>"
            f"{esc(ch.title)}</a></td><td>{esc(ch.time)}</td>"
            f"<td>{'<br>'.join(exps) or '<span class=muted>none yet</span>'}</td></tr>"
        )
    head = "<tr><th>#</th><th>chapter</th><th>time</th><th>latest run of each experiment</th></tr>"
    order = ", ".join(map(str, catalog.IMPORTANCE_ORDER))
    page.md(
        "# Deep learning curriculum\n\n"
        "An alignment-focused deep learning curriculum: read a chapter, write its code, run "
        "its experiment. New here? Read [Before you start](intro.md) first; it also lists "
        "other learners' solutions (Community solutions).\n\n"
        f"## Chapters {{#chapters}}\n\nSuggested order of importance: {order}."
    )
    page.html(f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")
    page.md(f"[All {len(runs)} runs, by experiment](runs.md)")


def _keep_page(run: RunInfo, previous: Path | None, out: Path) -> bool:
    """Copy the page the previous site had of `run` (with its figures) into `out`."""
    rel = run_page(run.run_dir)
    if previous is None or not (previous / rel).is_file():
        return False
    shutil.copytree((previous / rel).parent, (out / rel).parent, symlinks=True)
    return True


def _nav(extra: list[dict[str, str]]) -> list[Any]:
    chapters = [{f"{c.number}. {c.title}": f"chapters/{c.slug}.md"} for c in catalog.CHAPTERS]
    return [
        {"Home": "index.md"},
        {"Before you start": "intro.md"},
        {"Chapters": chapters},
        *extra,
        {"Runs": "runs.md"},
    ]


def _build_into(out: Path, runs_root: Path, previous: Path | None, strict: bool) -> list[Path]:
    runs = find_runs(runs_root)
    with tempfile.TemporaryDirectory(prefix="dlc-site-") as tmp:
        docs, fragments = Path(tmp) / "docs", Fragments()
        written: list[str] = []
        for i, run in enumerate(runs):
            if run.unreadable:
                continue
            try:
                page = run_page_md(run, docs, fragments)
            except OSError as e:  # a file of the run (a figure, report.md) cannot be read
                shutil.rmtree((docs / run_page(run.run_dir)).parent, ignore_errors=True)
                why = f"{Path(e.filename).name}: {e.strerror}" if e.filename else str(e)
                runs[i] = dataclasses.replace(run, summary={}, judgement={}, unreadable=why)
                continue
            written.append(page.write(docs))
        kept = [
            r
            for r in runs
            if r.unreadable and previous and (previous / run_page(r.run_dir)).is_file()
        ]
        linked = set(written) | {run_page(r.run_dir) for r in kept}
        groups = by_experiment(runs)
        index = Page("index.md", fragments)
        _index(runs, linked, index)
        listing = Page("runs.md", fragments)
        _runs_index(runs, runs_root, linked, listing)
        intro = Page("intro.md", fragments)
        intro.md(intro_markdown(lambda ch: f"[chapter {ch.number}](chapters/{ch.slug}.md)"))
        pages = [index, intro, listing]
        extra = []
        for title, rel in EXTRA_PAGES:
            source = resources.files("dlcurriculum") / rel
            if source.is_file():
                pages.append(Page(rel, fragments))
                pages[-1].md(source.read_text(encoding="utf-8"))
                extra.append({title: rel})
        for ch in catalog.CHAPTERS:
            pages.append(chapter_page(ch, groups, linked, docs, fragments))
        written += [p.write(docs) for p in pages]
        warnings = build(docs, out, _nav(extra), fragments)
    if strict and warnings:
        raise DlcError("the site generator warned: " + "; ".join(warnings))
    for run in kept:
        _keep_page(run, previous, out)
    return [out / rel for rel in written] + [out / run_page(r.run_dir) for r in kept]


def build_site(runs_root: Path, out: Path, strict: bool = False) -> list[Path]:
    """Write the site for the runs under `runs_root` into `out`; returns the pages written
    (and those kept from the previous site for runs that cannot be read now).

    Replaces `out` only if it is a site dlc built (or empty); anything else is refused.
    `strict` turns the generator's warnings (a broken link, say) into an error.
    """
    require_folder(runs_root, "--runs", RUNS_FIX)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise DlcError(f"{out} exists and is not a site `dlc site build` made: pass another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        pages = _build_into(tmp, runs_root, out if (out / MARKER).is_file() else None, strict)
        (tmp / MARKER).write_text("built by `dlc site build`; rebuilt whole each time\n")
        tmp.chmod(0o755)  # mkdtemp makes it private; a site is meant to be read
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / p.relative_to(tmp) for p in pages]
