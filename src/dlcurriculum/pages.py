"""Chapter pages and exercise help as text: what `dlc show`, `dlc hint` and `dlc solution` print."""

import importlib
import inspect
import re

from dlcurriculum.catalog import Chapter, Reading, prerequisites_of
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.exercises import HINT, Exercise, chapter_exercises


def _reading(r: Reading) -> str:
    return f"- [{r.title}]({r.url}) — {r.authors} ({r.year}). *Read:* {r.section}. {r.why}"


def chapter_markdown(ch: Chapter) -> str:
    """The chapter page: the catalog record rendered, then the chapter's README."""
    lines = [f"# {ch.number}. {ch.title}", "", ch.summary, ""]
    if ch.time:
        lines.append(f"*Time to budget:* {ch.time}.")
    helps = prerequisites_of(ch.number)
    if helps:
        lines.append(f"*Do first:* chapter {', '.join(map(str, helps))}.")
    lines += ["", "## Readings", ""] + [_reading(r) for r in ch.recommended]
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
            f"`dlc check {ch.number}` grades them."
        )
    else:
        lines.append("- Learner mode: not available for this chapter yet.")
    return "\n".join(lines) + "\n\n---\n\n" + ch.readme()


def _find(ch: Chapter, name: str) -> Exercise:
    for ex in chapter_exercises(ch.slug):
        if ex.name == name:
            return ex
    names = ", ".join(e.name for e in chapter_exercises(ch.slug)) or "none yet"
    raise DlcError(f"chapter {ch.number} has no exercise {name!r}: its exercises are {names}")


def exercise_source(ch: Chapter, name: str) -> str:
    """The reference source of an exercise."""
    ex = _find(ch, name)
    module = importlib.import_module(f"dlcurriculum.{ch.slug}.{ex.module}")
    return inspect.getsource(getattr(module, ex.qualname))


def exercise_hint(ch: Chapter, name: str) -> str:
    """An exercise's docstring(s) and `# HINT:` lines, without the solution."""
    ex = _find(ch, name)
    module = importlib.import_module(f"dlcurriculum.{ch.slug}.{ex.module}")
    obj = getattr(module, ex.qualname)
    parts = [f"{ex.name} ({ex.module}.py, {ex.qualname}):", "", inspect.getdoc(obj) or ""]
    hints = [
        m.group(1).strip()
        for m in re.finditer(rf"{re.escape(HINT)}(.*)", exercise_source(ch, name))
    ]
    if hints:
        parts += ["", "Hints:"] + [f"- {h}" for h in hints]
    return "\n".join(parts)
