"""Pages as markdown: the front matter and chapter pages (`dlc show`, the site) and exercise help.

What `dlc show`, `dlc hint` and `dlc solution` print, and what the site renders.
"""

import importlib
import inspect
import re
from collections.abc import Callable
from importlib import resources

from dlcurriculum import catalog
from dlcurriculum.catalog import prerequisites_of
from dlcurriculum.core.curriculum import Chapter, Link, Reading
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import (
    BEGIN,
    END,
    HINT,
    Exercise,
    chapter_exercises,
    written_answers,
    written_exercises,
)

INTRO_MARKER = "{{chapter_guide}}"


def _numbers(ns: tuple[int, ...]) -> str:
    """(2, 3, 8) -> '2, 3 and 8'."""
    words = [str(n) for n in ns]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _show_command(ch: Chapter) -> str:
    return f"`dlc show {ch.number}`"


def chapter_guide(link: Callable[[Chapter], str] = _show_command) -> str:
    """The chapters with their time, order of importance and dependencies, from the catalog.

    Args:
        link: how to point to a chapter's page (a `dlc show` command in the terminal, a
            markdown link on the site).
    """
    helps = "; ".join(
        f"chapter {a} helps with chapter{'s' * (len(bs) > 1)} {_numbers(bs)}"
        for a, bs in sorted(catalog.HELPS.items())
    )
    lines = [
        "## The chapters, their order and their time",
        "",
        "The chapters can be taken in any order, except that "
        f"{helps}, so do those first. Chapter 0 is the prerequisite exercise above. "
        "If time is short, this is the suggested order, most important first: "
        f"**{', '.join(map(str, catalog.IMPORTANCE_ORDER))}**.",
        "",
        "Budget between half a week and two weeks of full-time study per chapter, depending "
        "on the chapter and on how deep you go; taking longer is normal.",
        "",
        "| # | chapter | time | do first | page |",
        "|---|---|---|---|---|",
    ]
    for ch in catalog.chapters().values():
        first = _numbers(prerequisites_of(ch.number)) if prerequisites_of(ch.number) else "-"
        lines.append(f"| {ch.number} | {ch.title} | {ch.time or '-'} | {first} | {link(ch)} |")
    return "\n".join(lines)


def intro_markdown(link: Callable[[Chapter], str] = _show_command) -> str:
    """The front matter (`dlc show intro`): intro.md with the chapter guide filled in."""
    text = resources.files("dlcurriculum").joinpath("intro.md").read_text()
    return text.replace(INTRO_MARKER, chapter_guide(link))


def gpu_markdown() -> str:
    """The page on running on a GPU (`dlc show gpu`)."""
    return resources.files("dlcurriculum").joinpath("gpu.md").read_text()


ADDED_BY_US = "added by us"
"""How a page marks a reading or link that the curriculum does not list (with the reason)."""


def _added(reason: str) -> str:
    return f" *({ADDED_BY_US}: {reason})*" if reason else ""


def _reading(r: Reading) -> str:
    text = f"- [{r.title}]({r.url}) — {r.authors} ({r.year}). *Read:* {r.section}. {r.why}"
    return text + _added(r.added)


def _link(link: Link) -> str:
    return f"- [{link.title}]({link.url}): {link.why}{_added(link.added)}"


def chapter_markdown(ch: Chapter) -> str:
    """The chapter page: the catalog record rendered, then the chapter's README."""
    lines = [f"# {ch.number}. {ch.title}", "", ch.summary, ""]
    if ch.time:
        lines.append(f"*Time to budget:* {ch.time}.")
    helps = prerequisites_of(ch.number)
    if helps:
        lines.append(f"*Do first:* chapter {', '.join(map(str, helps))}.")
    lines += ["", "## Readings", "", "Recommended:", ""] + [_reading(r) for r in ch.recommended]
    if ch.optional:
        lines += ["", "Optional:", ""] + [_reading(r) for r in ch.optional]
    for ex in ch.exercises:
        lines += [
            "",
            f"## Exercise ({ex.kind}): {ex.title}",
            "",
            ex.description,
            "",
            "Success criteria:",
        ]
        lines += [f"- {c}" for c in ex.success_criteria]
    if ch.links:
        lines += ["", "## Links for the exercise", ""] + [_link(link) for link in ch.links]
    lines += ["", "## In this software", ""]
    if ch.experiments:
        lines += [f"- `dlc run {e.name}`: {e.summary}" for e in ch.experiments]
    else:
        lines.append("- No experiment is available for this chapter yet.")
    code = chapter_exercises(ch.slug)
    if code:
        names = ", ".join(f"`{e.name}`" for e in code)
        lines.append(
            f"- Learner mode: `dlc start {ch.number}` writes the stubs for {names}; "
            f"`dlc check {ch.number}` grades them. Or in Jupyter: `dlc notebook {ch.number}` "
            "writes this chapter as a notebook, each exercise with its check cell."
        )
    else:
        lines.append("- Learner mode: not available for this chapter yet.")
    answered = written_answers(ch.slug)
    for name in written_exercises(ch.slug):
        ours = f"; `dlc solution {ch.number} {name}` shows ours" if name in answered else ""
        sheet = f"`dlc start {ch.number}` writes `{name}.md`"
        lines.append(f"- Written exercise: {sheet} for your answers{ours}.")
    return "\n".join(lines) + "\n\n---\n\n" + ch.readme()


def _find(ch: Chapter, name: str) -> Exercise:
    for ex in chapter_exercises(ch.slug):
        if ex.name == name:
            return ex
    code = [e.name for e in chapter_exercises(ch.slug)]
    names = ", ".join(code + [f"{n} (written)" for n in written_exercises(ch.slug)])
    raise DlcError(
        f"chapter {ch.number} has no exercise {name!r}: its exercises are {names or 'none yet'}"
    )


def exercise_solution(ch: Chapter, name: str) -> tuple[str, str]:
    """What `dlc solution` prints and its language: our answers to a written exercise
    ("markdown") or an exercise's reference code ("python", see `exercise_source`)."""
    if name not in written_exercises(ch.slug):
        return exercise_source(ch, name), "python"
    answers = written_answers(ch.slug).get(name)
    if answers is None:
        raise DlcError(
            f"chapter {ch.number}'s {name!r} is a written exercise with no answers of ours to "
            f"show: yours are the answer (`dlc start {ch.number}` writes {name}.md)"
        )
    return answers.read_text(encoding="utf-8"), "markdown"


def exercise_source(ch: Chapter, name: str) -> str:
    """The reference source of an exercise, as a learner would paste it (no solution markers)."""
    ex = _find(ch, name)
    module = importlib.import_module(f"dlcurriculum.{ch.slug}.{ex.module}")
    source = inspect.getsource(getattr(module, ex.qualname))
    return "".join(
        line for line in source.splitlines(keepends=True) if line.strip() not in (BEGIN, END)
    )


def exercise_hints(source: str) -> list[str]:
    """The `# HINT:` lines of a source, a sentence continued over several lines joined.

    A hint line that does not end a sentence (., !, ? or :) goes on in the next one.
    """
    hints: list[str] = []
    open_sentence = False
    for m in re.finditer(rf"{re.escape(HINT)}(.*)", source):
        text = m.group(1).strip()
        if open_sentence and hints:
            hints[-1] = f"{hints[-1]} {text}"
        else:
            hints.append(text)
        open_sentence = not text.endswith((".", "!", "?", ":"))
    return hints


def exercise_hint(ch: Chapter, name: str) -> str:
    """An exercise's docstring(s) and `# HINT:` lines, without the solution; for a written
    exercise, its questions and hints (the template `dlc start` writes)."""
    written = written_exercises(ch.slug)
    if name in written:
        template = re.sub(r"\n{3,}", "\n\n", written[name].read_text(encoding="utf-8"))
        return f"{name} (written: `dlc start {ch.number}` writes it as {name}.md):\n\n{template}"
    ex = _find(ch, name)
    module = importlib.import_module(f"dlcurriculum.{ch.slug}.{ex.module}")
    obj = getattr(module, ex.qualname)
    parts = [f"{ex.name} ({ex.module}.py, {ex.qualname}):", "", inspect.getdoc(obj) or ""]
    hints = exercise_hints(exercise_source(ch, name))
    if hints:
        parts += ["", "Hints:"] + [f"- {h}" for h in hints]
    return "\n".join(parts)
