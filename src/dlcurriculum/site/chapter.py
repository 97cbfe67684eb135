"""A chapter's page on the site: the page, each exercise inline, the reference runs' figures.

The exercise shows the stub a learner starts from (signature and docstring), its hints and
the reference solution folded away, and the commands that grade and run it; the figures are
those of the reference record of each experiment's quick run (dlcurriculum.reference).
"""

import importlib
import inspect
import shutil
import textwrap
from pathlib import Path

from dlcurriculum import pages
from dlcurriculum.core.curriculum import Chapter
from dlcurriculum.core.exercises import Exercise, chapter_exercises, make_skeleton
from dlcurriculum.progress import RunInfo
from dlcurriculum.site.generator import Fragments, Page
from dlcurriculum.site.render import BADGE_KINDS, badge, esc, href
from dlcurriculum.site.runs import runs_list

REFERENCE_PRESET = "quick"


def _fold(kind: str, title: str, body: str) -> str:
    """A folded admonition (pymdownx.details): closed until the reader opens it."""
    return f'??? {kind} "{title}"\n\n' + textwrap.indent(body.strip("\n"), "    ") + "\n"


def _exercise(ch: Chapter, ex: Exercise) -> str:
    module = importlib.import_module(f"dlcurriculum.{ch.slug}.{ex.module}")
    source = inspect.getsource(getattr(module, ex.qualname))
    needs = f" It uses your `{'`, `'.join(ex.depends_on)}`." if ex.depends_on else ""
    parts = [
        f"### `{ex.name}`",
        "",
        f"In `{ex.module}.py`: write `{ex.qualname}` from this stub; its docstring says what "
        f"it must do.{needs}",
        "",
        f"```python\n{make_skeleton(source).rstrip()}\n```",
        "",
    ]
    hints = pages.exercise_hints(source)
    if hints:
        parts.append(_fold("tip", "Hints", "\n".join(f"- {h}" for h in hints)))
    solution = pages.exercise_source(ch, ex.name).rstrip()
    parts.append(
        _fold("warning", "Try it first: the reference solution", f"```python\n{solution}\n```")
    )
    parts.append(
        f"Grade it with `dlc check {ch.number} {ex.name} --dir workspace`; "
        f"`dlc hint {ch.number} {ex.name}` prints the hints in the terminal."
    )
    return "\n".join(parts)


def _exercises(ch: Chapter, notebook: str) -> str:
    exercises = chapter_exercises(ch.slug)
    if not exercises:
        return ""
    n = ch.number
    runs = "\n".join(
        f"dlc run {e.name} --preset quick --impl workspace   # with your code"
        for e in ch.experiments
    )
    nb = f" ([this chapter's notebook]({notebook}))" if notebook else ""
    lines = [
        "## Write the code",
        "",
        f"`dlc start {n}` copies the stubs into your workspace; `dlc check {n}` grades them "
        f"with hints on what differs. In Jupyter, `dlc notebook {n}` writes the chapter as a "
        f"notebook{nb}, each exercise with its check cell.",
        "",
        f"```bash\ndlc start {n} --dir workspace\ndlc check {n} --dir workspace\n"
        f"dlc notebook {n}\n{runs}\n```".replace("\n\n```", "\n```"),
        "",
    ]
    return "\n".join(lines + [_exercise(ch, ex) + "\n" for ex in exercises])


def _notebook(ch: Chapter, folder: Path) -> str:
    """Write the chapter's notebook next to the page; its file name, or "" without nbformat."""
    try:
        import nbformat
    except ImportError:
        return ""
    from dlcurriculum import notebook

    name = notebook.notebook_name(ch)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(nbformat.writes(notebook.build(ch.number)))
    return name


def _reference_runs(ch: Chapter, page: Page, folder: Path) -> None:
    """Per experiment, the reference record's verdicts and figures (copied next to the page)."""
    from dlcurriculum import reference

    if not ch.experiments:
        return
    page.md(
        "\n## Reference runs\n\n"
        f"What the reference solution measured in one `{REFERENCE_PRESET}` run of each "
        "experiment, kept in the package; `dlc compare RUN` puts yours beside it, and every "
        "report overlays your curves on these."
    )
    for e in ch.experiments:
        page.md(f"\n### {e.name}\n")
        ref = reference.load(e.name, REFERENCE_PRESET)
        if ref is None:
            page.md(f"No reference record yet: `dlc reference record {e.name}` makes one.")
            continue
        status = str(ref.criteria.get("status", "?"))
        passed = [c for c in ref.criteria.get("criteria", []) if c.get("status") == "PASS"]
        total = len(ref.criteria.get("criteria", []))
        figures = []
        for fig in ref.figures:
            dest = folder / e.name / fig.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fig, dest)
            src = href(f"{folder.name}/{e.name}/{fig.name}")
            figures.append(
                f'<figure><img src="{src}" alt="{esc(fig.stem)}">'
                f"<figcaption>{esc(fig.stem.replace('_', ' '))}</figcaption></figure>"
            )
        page.html(
            f"<p>{badge(status, BADGE_KINDS.get(status, 'other'))} {len(passed)} of {total} "
            f"criteria passed in {ref.wall_time_s:.0f} s "
            f"<span class='muted'>(recorded {esc(ref.recorded)})</span></p>"
            + (f"<div class='figures'>{''.join(figures)}</div>" if figures else "")
        )


def chapter_page(
    ch: Chapter, groups: dict[str, list[RunInfo]], linked: set[str], docs: Path, frags: Fragments
) -> Page:
    """The chapter's page: catalog record and README, exercises, reference runs, your runs."""
    page = Page(f"chapters/{ch.slug}.md", frags)
    folder = docs / "chapters" / f"{ch.slug}_files"
    text, readme = pages.chapter_markdown(ch), ch.readme()
    if readme.startswith("# "):  # the page has its title already
        text = text.replace(readme, readme.split("\n", 1)[1])
    page.md(text)
    page.md(_exercises(ch, _notebook(ch, docs / "chapters")))
    _reference_runs(ch, page, folder)
    runs = [r for e in ch.experiments for r in groups.get(e.name, [])]
    page.md("\n## Your runs\n")
    if runs:
        page.html(runs_list(runs, "../", linked))
    else:
        first = ch.experiments[0].name if ch.experiments else "mnist"
        page.md(f"None found yet: `dlc run {first} --preset quick`, then `dlc site build`.")
    return page
