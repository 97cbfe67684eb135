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
from dlcurriculum.progress import RUNS_FIX, RunInfo, find_runs, require_folder
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


def _status_badge(status: str) -> str:
    return badge(status, BADGE_KINDS.get(status, "other"))


def _wall_time(summary: dict[str, Any]) -> str:
    wall = summary.get("wall_time_s")
    return f"{wall:.1f} s" if isinstance(wall, int | float) else ""


def _read_text(path: Path) -> str | None:
    """A text file of the run, or None when it is missing or cannot be read as text."""
    try:
        return path.read_text() if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


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

    try:
        rows = read_metrics(run_dir)
    except (OSError, UnicodeDecodeError):
        return "<h2>Metrics</h2><p>metrics.jsonl cannot be read.</p>"
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
    if _wall_time(run.summary):
        facts.append(("wall time", _wall_time(run.summary)))
    parts = [f"<h1>{esc(run.experiment)} — {esc(run.name)}</h1>"]
    if chapter is not None:
        link = href(root + _chapter_page(chapter))
        parts.append(f'<p>Chapter <a href="{link}">{chapter.number}. {esc(chapter.title)}</a></p>')
    parts.append(table(None, facts))
    argv = _read_text(run.run_dir / "argv.txt")
    if argv is not None:
        parts.append(f"<p>Command:</p><pre>{esc(argv.strip())}</pre>")
    parts.append("<h2>Success criteria</h2>")
    if run.criteria:
        parts.append(f"<p>Status: {_verdict_badge(run)}</p>")
        items = [
            f"<li>{_status_badge(str(c.get('status', '?')))} "
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
    report = _read_text(run.run_dir / "report.md")
    if report is not None:
        parts.append("<h2>Report</h2>" + markdown(report, run.run_dir, dest, shift=1))
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


def _link(run: RunInfo, root: str, linked: set[str], text: str = "") -> str:
    """`text` (default: the run's name), linked to the run's page when the site has one."""
    rel, text = run_page(run.run_dir), esc(text or run.name)
    return f'<a href="{href(root + rel)}">{text}</a>' if rel in linked else text


def _runs_list(runs: list[RunInfo], root: str, linked: set[str]) -> str:
    rows = []
    for r in reversed(runs):  # newest first
        verdict = _verdict_badge(r)
        if r.unreadable:
            kept = " The page is from an earlier build." if run_page(r.run_dir) in linked else ""
            verdict += f" <span class='muted'>{esc(r.unreadable)}.{kept}</span>"
        rows.append(
            "<tr>"
            f"<td>{_link(r, root, linked)}</td><td>{esc(r.config.get('preset', ''))}</td>"
            f"<td>{esc(_code(r))}</td><td>{verdict}</td>"
            f"<td class='num'>{esc(_wall_time(r.summary))}</td>"
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


def _runs_index(runs: list[RunInfo], runs_root: Path, linked: set[str]) -> str:
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
        parts.append(_runs_list(group, "", linked))
    return "\n".join(parts)


def _index(runs: list[RunInfo], linked: set[str]) -> str:
    groups = _by_experiment(runs)
    rows = []
    for ch in catalog.chapters().values():
        exps = []
        for e in ch.experiments:
            latest = groups.get(e.name, [])
            if latest:
                link = _link(latest[-1], "", linked, e.name)
                exps.append(f"{link} {_verdict_badge(latest[-1])}")
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
            "its experiment. New here? Read <a href='intro.html'>Before you start</a> first; "
            "it also lists other learners' solutions (Community solutions).</p>",
            f"<h2 id='chapters'>Chapters</h2><p>Suggested order of importance: {order}.</p>",
            f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>",
            f"<p><a href='runs.html'>All {len(runs)} runs, by experiment</a></p>",
        ]
    )


def _chapter_body(
    ch: catalog.Chapter, groups: dict[str, list[RunInfo]], dest: Path, linked: set[str]
) -> str:
    from importlib import import_module

    source = Path(import_module(f"dlcurriculum.{ch.slug}").__file__ or "").parent
    parts = [markdown(chapter_markdown(ch), source, dest)]
    runs = [r for e in ch.experiments for r in groups.get(e.name, [])]
    parts.append("<h2>Runs of this chapter's experiments</h2>")
    parts.append(_runs_list(runs, "../", linked) if runs else "<p>None found.</p>")
    return "\n".join(parts)


def _keep_page(run: RunInfo, previous: Path | None, out: Path) -> bool:
    """Copy the page the previous site had of `run` (with its figures) into `out`."""
    rel = run_page(run.run_dir)
    if previous is None or not (previous / rel).is_file():
        return False
    shutil.copytree((previous / rel).parent, (out / rel).parent, symlinks=True)
    return True


def _build_into(out: Path, runs_root: Path, previous: Path | None) -> list[Path]:
    runs = find_runs(runs_root)
    pages = []
    for i, run in enumerate(runs):
        if run.unreadable:
            continue
        rel = run_page(run.run_dir)
        try:
            body = _run_body(run, (out / rel).parent, "../../../")
        except OSError as e:  # a file of the run (a figure, report.md) cannot be read
            shutil.rmtree((out / rel).parent, ignore_errors=True)
            why = f"{Path(e.filename).name}: {e.strerror}" if e.filename else str(e)
            runs[i] = dataclasses.replace(run, summary={}, judgement={}, unreadable=why)
            continue
        pages.append(_write(out, rel, f"{run.experiment} {run.name}", body))
    kept = [run for run in runs if run.unreadable and _keep_page(run, previous, out)]
    pages += [out / run_page(run.run_dir) for run in kept]
    linked = {p.relative_to(out).as_posix() for p in pages}
    groups = _by_experiment(runs)
    atomic_write_text(out / "style.css", CSS)
    (out / MARKER).write_text("built by `dlc site build`; rebuilt whole each time\n")
    intro = intro_markdown(lambda ch: f"[chapter {ch.number}]({_chapter_page(ch)})")
    pages += [
        _write(out, "index.html", "Deep learning curriculum", _index(runs, linked)),
        _write(out, "intro.html", "Before you start", markdown(intro)),
        _write(out, "runs.html", "Runs", _runs_index(runs, runs_root, linked)),
    ]
    for ch in catalog.chapters().values():
        rel = _chapter_page(ch)
        body = _chapter_body(ch, groups, out / "chapters" / f"{ch.slug}_files", linked)
        pages.append(_write(out, rel, f"{ch.number}. {ch.title}", body))
    return pages


def build_site(runs_root: Path, out: Path) -> list[Path]:
    """Write the site for the runs under `runs_root` into `out`; returns the pages written
    (and those kept from the previous site for runs that cannot be read now).

    Replaces `out` only if it is a site dlc built (or empty); anything else is refused.
    """
    require_folder(runs_root, "--runs", RUNS_FIX)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise DlcError(f"{out} exists and is not a site `dlc site build` made: pass another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        pages = _build_into(tmp, runs_root, out if (out / MARKER).is_file() else None)
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
