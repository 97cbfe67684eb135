"""The site's run pages and run tables: everything from a run folder, as escaped HTML."""

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlcurriculum import catalog
from dlcurriculum.progress import RunInfo
from dlcurriculum.site.generator import Fragments, Page
from dlcurriculum.site.render import BADGE_KINDS, badge, esc, href, markdown, slug, table

FIGURE_TYPES = (".png", ".gif", ".jpg", ".jpeg", ".svg", ".webp")
MAX_METRIC_ROWS = 40
MAX_SUMMARY_ROWS = 300


def run_page(run_dir: Path) -> str:
    """A run's page, relative to the site root (`runs/<experiment>/<run>/index.html`)."""
    return f"runs/{slug(run_dir.parent.name)}/{slug(run_dir.name)}/index.html"


def chapter_page_path(ch: catalog.Chapter) -> str:
    return f"chapters/{ch.slug}.html"


def verdict_badge(run: RunInfo) -> str:
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
        return "<p>metrics.jsonl cannot be read.</p>"
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
    return note + table(keys, cells)


def _cell(value: Any) -> Any:
    return value if isinstance(value, int | float | str) else json.dumps(value)


def run_page_md(run: RunInfo, docs: Path, fragments: Fragments) -> Page:
    """A run's page; copies its figures next to it."""
    rel_md = run_page(run.run_dir).removesuffix(".html") + ".md"
    root, dest = "../../../", (docs / rel_md).parent
    page = Page(rel_md, fragments, f"{slug(run.experiment)} {slug(run.name)}", search=False)
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
    head = [f"<h1>{esc(run.experiment)} — {esc(run.name)}</h1>"]
    if chapter is not None:
        link = href(root + chapter_page_path(chapter))
        head.append(f'<p>Chapter <a href="{link}">{chapter.number}. {esc(chapter.title)}</a></p>')
    head.append(table(None, facts))
    argv = _read_text(run.run_dir / "argv.txt")
    if argv is not None:
        head.append(f"<p>Command:</p><pre><code>{esc(argv.strip())}</code></pre>")
    page.html("\n".join(head))
    page.section("Success criteria", _criteria(run))
    report = _read_text(run.run_dir / "report.md")
    if report is not None:
        page.section("Report", markdown(report, run.run_dir, dest, shift=1))
    figures = sorted(p for p in (run.run_dir / "figures").glob("*") if p.suffix in FIGURE_TYPES)
    more = []
    for p in figures:
        if not (dest / "figures" / p.name).exists():
            (dest / "figures").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest / "figures" / p.name)
            more.append(f'<p><img src="{href("figures/" + p.name)}" alt="{esc(p.stem)}"></p>')
    page.section("More figures", "".join(more))
    if run.summary:
        rows = [(k, _cell(v)) for k, v in list(_flatten(run.summary))[:MAX_SUMMARY_ROWS]]
        page.section("Final figures (summary.json)", table(["key", "value"], rows))
    page.section("Metrics", _metrics_table(run.run_dir))
    return page


def _criteria(run: RunInfo) -> str:
    if not run.criteria:
        return (
            "<p>Not judged yet: the run has no criteria.json in this version's format "
            f"(rebuild its report with <code>dlc report {esc(run.run_dir)}</code>).</p>"
        )
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
    parts = [
        f"<p>Status: {verdict_badge(run)}</p>",
        '<ul class="criteria">' + "".join(items) + "</ul>",
    ]
    if run.status == "SMOKE":
        parts.append(
            "<p class='muted'>A smoke run is not judged: it proves that the code runs, not "
            "that the exercise works.</p>"
        )
    return "".join(parts)


def run_link(run: RunInfo, root: str, linked: set[str], text: str = "") -> str:
    """`text` (default: the run's name), linked to the run's page when the site has one."""
    rel, text = run_page(run.run_dir), esc(text or run.name)
    return f'<a href="{href(root + rel)}">{text}</a>' if rel in linked else text


def runs_list(runs: list[RunInfo], root: str, linked: set[str]) -> str:
    """A table of runs, newest first, each linked to its page."""
    rows = []
    for r in reversed(runs):
        verdict = verdict_badge(r)
        if r.unreadable:
            kept = " The page is from an earlier build." if run_page(r.run_dir) in linked else ""
            verdict += f" <span class='muted'>{esc(r.unreadable)}.{kept}</span>"
        rows.append(
            "<tr>"
            f"<td>{run_link(r, root, linked)}</td><td>{esc(r.config.get('preset', ''))}</td>"
            f"<td>{esc(_code(r))}</td><td>{verdict}</td>"
            f"<td class='num'>{esc(_wall_time(r.summary))}</td>"
            "</tr>"
        )
    head = "<tr><th>run</th><th>preset</th><th>code</th><th>criteria</th><th>wall time</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def by_experiment(runs: list[RunInfo]) -> dict[str, list[RunInfo]]:
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
