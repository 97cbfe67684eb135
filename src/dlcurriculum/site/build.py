"""`dlc site build`: the curriculum and every run as a static site that opens without a server.

Layout of the site folder:

    index.html                         chapters, and the latest run of each experiment
    intro.html                         the front matter
    runs.html                          every run, grouped by experiment
    chapters/<slug>.html               each chapter page (catalog record + README)
    runs/<experiment>/<run>/index.html each run: criteria, report, figures, metrics
    runs/<experiment>/<run>/figures/   the figures, copied

The site is built in a temporary folder next to `out` and swapped in whole, so a failed
build leaves the previous site intact.
"""

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlcurriculum import catalog
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.runs import atomic_write_text
from dlcurriculum.pages import chapter_markdown, intro_markdown
from dlcurriculum.progress import RunInfo, find_runs
from dlcurriculum.site.render import BADGE_KINDS, CSS, badge, esc, href, markdown, page, slug, table

MARKER = ".dlc-site"
"""A file that marks a folder as a site dlc built, so a rebuild may replace it."""
FIGURE_TYPES = (".png", ".gif", ".jpg", ".jpeg", ".svg", ".webp")
MAX_METRIC_ROWS = 40
MAX_SUMMARY_ROWS = 300


def run_page(run_dir: Path) -> str:
    """A run's page, relative to the site root (`runs/<experiment>/<run>/index.html`)."""
    return f"runs/{slug(run_dir.parent.name)}/{slug(run_dir.name)}/index.html"


def _chapter_page(ch: catalog.Chapter) -> str:
    return f"chapters/{ch.slug}.html"


def _verdict_badge(run: RunInfo) -> str:
    return badge(run.verdict, BADGE_KINDS.get(run.status, "other"))


def _code(run: RunInfo) -> str:
    return f"yours ({run.config['impl']})" if run.config.get("impl") else "reference"


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested summary values as (dotted.key, leaf) rows."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and len(value) > 8:
        yield prefix, f"[{len(value)} values] " + json.dumps(value[:8])[:-1] + ", …]"
    else:
        yield prefix, value if isinstance(value, int | float | str) else json.dumps(value)


def _metrics_table(run_dir: Path) -> str:
    from dlcurriculum.core.runs import read_metrics

    rows = read_metrics(run_dir)
    if not rows:
        return ""
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    if len(rows) > MAX_METRIC_ROWS:  # evenly spaced, always with the last row
        stride = len(rows) / MAX_METRIC_ROWS
        picked = [rows[int(i * stride)] for i in range(MAX_METRIC_ROWS - 1)] + [rows[-1]]
        note = f"<p class='muted'>{len(picked)} of {len(rows)} logged rows, evenly spaced.</p>"
    else:
        picked, note = rows, ""
    cells = [[_cell(r.get(k, "")) for k in keys] for r in picked]
    return "<h2>Metrics</h2>" + note + table(keys, cells)


def _cell(value: Any) -> Any:
    return value if isinstance(value, int | float | str) else json.dumps(value)


def _write(out: Path, rel: str, title: str, body: str) -> Path:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(title, body, rel.count("/")))
    return path


def _run_body(run: RunInfo, dest: Path, root: str) -> str:
    """The body of a run's page; copies its figures into `dest`."""
    entry = catalog.experiments().get(run.experiment)
    chapter = catalog.get_chapter(entry.chapter) if entry else None
    facts = [
        ("experiment", run.experiment),
        ("run folder", str(run.run_dir)),
        ("preset", run.config.get("preset", "")),
        ("seed", str(run.config.get("seed", ""))),
        ("code", _code(run)),
        ("status", run.verdict),
    ]
    if "wall_time_s" in run.summary:
        facts.append(("wall time", f"{run.summary['wall_time_s']:.1f} s"))
    parts = [f"<h1>{esc(run.experiment)} — {esc(run.name)}</h1>"]
    if chapter is not None:
        link = href(root + _chapter_page(chapter))
        parts.append(f'<p>Chapter <a href="{link}">{chapter.number}. {esc(chapter.title)}</a></p>')
    parts.append(table(None, facts))
    argv = run.run_dir / "argv.txt"
    if argv.is_file():
        parts.append(f"<p>Command:</p><pre>{esc(argv.read_text().strip())}</pre>")
    parts.append("<h2>Success criteria</h2>")
    if run.criteria:
        parts.append(f"<p>Status: {_verdict_badge(run)}</p>")
        items = [
            f"<li>{badge(c.get('status', '?'), BADGE_KINDS.get(c.get('status', ''), 'other'))} "
            f"{esc(c.get('criterion', ''))}: <strong>{esc(c.get('measured', ''))}</strong></li>"
            for c in run.criteria
        ]
        items += [
            f"<li>{badge('not run', 'other')} {esc(c.get('criterion', ''))} "
            f"<span class='muted'>(turn it on with <code>{esc(c.get('enable', ''))}</code>)"
            "</span></li>"
            for c in run.judgement.get("not_run", [])
        ]
        parts.append('<ul class="criteria">' + "".join(items) + "</ul>")
        if run.status == "SMOKE":
            parts.append(
                "<p class='muted'>A smoke run is not judged: it proves that the code runs, not "
                "that the exercise works.</p>"
            )
    else:
        parts.append(
            "<p>Not judged yet: the run has no criteria.json in this version's format "
            f"(rebuild its report with <code>dlc report {esc(run.run_dir)}</code>).</p>"
        )
    report = run.run_dir / "report.md"
    if report.is_file():
        parts.append("<h2>Report</h2>" + markdown(report.read_text(), run.run_dir, dest, shift=1))
    figures = sorted(p for p in (run.run_dir / "figures").glob("*") if p.suffix in FIGURE_TYPES)
    unshown = [p for p in figures if not (dest / "figures" / p.name).exists()]
    if unshown:
        parts.append("<h2>More figures</h2>")
        for p in unshown:
            (dest / "figures").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest / "figures" / p.name)
            parts.append(f'<p><img src="{href("figures/" + p.name)}" alt="{esc(p.stem)}"></p>')
    if run.summary:
        rows = list(_flatten(run.summary))
        parts.append("<h2>Final figures (summary.json)</h2>")
        parts.append(table(["key", "value"], [(k, _cell(v)) for k, v in rows[:MAX_SUMMARY_ROWS]]))
    parts.append(_metrics_table(run.run_dir))
    return "\n".join(parts)


def _runs_list(runs: list[RunInfo], root: str) -> str:
    rows = []
    for r in reversed(runs):  # newest first
        link = f'<a href="{href(root + run_page(r.run_dir))}">{esc(r.name)}</a>'
        wall = r.summary.get("wall_time_s")
        rows.append(
            "<tr>"
            f"<td>{link}</td><td>{esc(r.config.get('preset', ''))}</td>"
            f"<td>{esc(_code(r))}</td><td>{_verdict_badge(r)}</td>"
            f"<td class='num'>{'' if wall is None else esc(f'{wall:.1f} s')}</td>"
            "</tr>"
        )
    head = "<tr><th>run</th><th>preset</th><th>code</th><th>criteria</th><th>wall time</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _by_experiment(runs: list[RunInfo]) -> dict[str, list[RunInfo]]:
    """Runs grouped by experiment, in catalog order, then experiments the catalog lacks."""
    order = list(catalog.experiments())
    groups: dict[str, list[RunInfo]] = {}
    for r in runs:
        groups.setdefault(r.experiment, []).append(r)
    return dict(
        sorted(
            groups.items(),
            key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]),
        )
    )


def _runs_index(runs: list[RunInfo], runs_root: Path) -> str:
    parts = ["<h1>Runs</h1>", f"<p class='muted'>Found under {esc(runs_root)}.</p>"]
    if not runs:
        parts.append(
            "<p>No runs yet: try <code>dlc run mnist --preset quick</code>, then "
            "<code>dlc site build</code> again.</p>"
        )
    for name, group in _by_experiment(runs).items():
        entry = catalog.experiments().get(name)
        parts.append(f'<h2 id="{esc(slug(name))}">{esc(name)}</h2>')
        if entry:
            parts.append(f"<p class='muted'>{esc(entry.summary)}</p>")
        parts.append(_runs_list(group, ""))
    return "\n".join(parts)


def _index(runs: list[RunInfo]) -> str:
    groups = _by_experiment(runs)
    rows = []
    for ch in catalog.chapters().values():
        exps = []
        for e in ch.experiments:
            latest = groups.get(e.name, [])
            if latest:
                link = href(run_page(latest[-1].run_dir))
                exps.append(f'<a href="{link}">{esc(e.name)}</a> {_verdict_badge(latest[-1])}')
            else:
                exps.append(f"{esc(e.name)} <span class='muted'>(no run)</span>")
        rows.append(
            f"<tr><td>{ch.number}</td><td><a href='{href(_chapter_page(ch))}'>"
            f"{esc(ch.title)}</a></td><td>{esc(ch.time)}</td>"
            f"<td>{'<br>'.join(exps) or '<span class=muted>none yet</span>'}</td></tr>"
        )
    head = "<tr><th>#</th><th>chapter</th><th>time</th><th>latest run of each experiment</th></tr>"
    order = ", ".join(map(str, catalog.IMPORTANCE_ORDER))
    return "\n".join(
        [
            "<h1>Deep learning curriculum</h1>",
            "<p>An alignment-focused deep learning curriculum: read a chapter, write its code, run "
            "its experiment. New here? Read <a href='intro.html'>Before you start</a> first.</p>",
            f"<h2 id='chapters'>Chapters</h2><p>Suggested order of importance: {order}.</p>",
            f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>",
            f"<p><a href='runs.html'>All {len(runs)} runs, by experiment</a></p>",
        ]
    )


def _chapter_body(ch: catalog.Chapter, groups: dict[str, list[RunInfo]], dest: Path) -> str:
    from importlib import import_module

    source = Path(import_module(f"dlcurriculum.{ch.slug}").__file__ or "").parent
    parts = [markdown(chapter_markdown(ch), source, dest)]
    runs = [r for e in ch.experiments for r in groups.get(e.name, [])]
    parts.append("<h2>Runs of this chapter's experiments</h2>")
    parts.append(_runs_list(runs, "../") if runs else "<p>None found.</p>")
    return "\n".join(parts)


def _build_into(out: Path, runs_root: Path) -> list[Path]:
    runs = find_runs(runs_root)
    groups = _by_experiment(runs)
    atomic_write_text(out / "style.css", CSS)
    (out / MARKER).write_text("built by `dlc site build`; rebuilt whole each time\n")
    intro = intro_markdown(lambda ch: f"[chapter {ch.number}]({_chapter_page(ch)})")
    pages = [
        _write(out, "index.html", "Deep learning curriculum", _index(runs)),
        _write(out, "intro.html", "Before you start", markdown(intro)),
        _write(out, "runs.html", "Runs", _runs_index(runs, runs_root)),
    ]
    for ch in catalog.chapters().values():
        rel = _chapter_page(ch)
        body = _chapter_body(ch, groups, out / "chapters" / f"{ch.slug}_files")
        pages.append(_write(out, rel, f"{ch.number}. {ch.title}", body))
    for run in runs:
        rel = run_page(run.run_dir)
        body = _run_body(run, (out / rel).parent, "../../../")
        pages.append(_write(out, rel, f"{run.experiment} {run.name}", body))
    return pages


def build_site(runs_root: Path, out: Path) -> list[Path]:
    """Write the site for the runs under `runs_root` into `out`; returns the pages written.

    Replaces `out` only if it is a site dlc built (or empty); anything else is refused.
    """
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise DlcError(f"{out} exists and is not a site `dlc site build` made: pass another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        pages = _build_into(tmp, runs_root)
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
