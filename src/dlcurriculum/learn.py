"""Learn in a notebook or a script: grade your code and run experiments with it, in-process.

    from dlcurriculum import learn

    learn.check("attention_pattern", attention_pattern)   # PASS, or FAIL and the hint
    learn.run("reverse", preset="smoke", impl={"attention_pattern": attention_pattern})

The same checks as `dlc check` and the same experiments as `dlc run --impl`, given Python
objects instead of a workspace folder. A mistake prints one line and returns rather than
raising, so a notebook shows the hint, not a traceback.
"""

import ast
import difflib
import inspect
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dlcurriculum import catalog
from dlcurriculum.core.errors import DlcError, user_message
from dlcurriculum.core.exercises import (
    DEFS,
    IN_PROCESS,
    Exercise,
    chapter_exercises,
    find_stubs,
    grader,
    in_process,
)


def find(name: str) -> tuple[str, Exercise]:
    """(chapter slug, exercise) of an exercise name, which is unique across chapters."""
    known = {e.name: (ch.slug, e) for ch in catalog.chapters().values()
             for e in chapter_exercises(ch.slug)}  # fmt: skip
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "`dlc list` names them"
        raise DlcError(f"no exercise is called {name!r}: {hint}")
    return known[name]


def check(name: str, impl: Any) -> bool:
    """Grade `impl` (your function or class) with exercise `name`'s check; print PASS or FAIL
    with the check's message, as `dlc check` does, and return whether it passed."""
    from dlcurriculum.core.checks import run_check

    try:
        slug, ex = find(name)
    except DlcError as e:
        print(f"FAIL  {name}: {e}")
        return False
    result = run_check(name, grader(slug, ex), impl, _source_file(impl))
    print(f"PASS  {name}" if result.passed else f"FAIL  {name}: {result.message}")
    return result.passed


def run(
    experiment: str,
    preset: str = "smoke",
    impl: Mapping[str, Any] | None = None,
    sets: Sequence[str] = (),
    out: Path | None = None,
) -> Any:
    """Run an experiment with your objects in place of the reference's and print its verdicts.

    Args:
        experiment: its name, as for `dlc run` ("mnist", "reverse", ...).
        preset: "smoke" (seconds), "quick" or "full".
        impl: exercise name -> your function or class ({} or None: the reference).
        sets: config overrides, as `--set` takes them ("epochs=2").
        out: root folder of run folders (default ./runs).

    Returns:
        The run's Result (its run_dir and summary), or None when the run could not start or
        stopped on a mistake, after printing one line that says why.
    """
    from dlcurriculum.core import experiment as exp
    from dlcurriculum.run_commands import print_verdicts

    objects: dict[str, Any] = {}
    try:
        entry = catalog.get_experiment(experiment)
        spec = exp.load_spec(entry.module, entry.attr)
        slug = catalog.get_chapter(entry.chapter).slug
        objects = _objects_for(spec, slug, dict(impl or {}))
        assignments = [*sets, *([f"impl={IN_PROCESS}"] if objects else [])]
        cfg = spec.config(preset, assignments)
        with in_process(slug, objects):
            result, judgement = exp.launch(spec, cfg, preset, out)
    except Exception as e:
        message = user_message(e) or _yours(e, objects.values())
        if message is None:
            raise  # a bug in dlc: the traceback is for us
        print(f"error: {message}")
        return None
    print_verdicts(result.run_dir, result.summary, judgement)
    return result


def _objects_for(spec: Any, slug: str, impl: dict[str, Any]) -> dict[str, Any]:
    """qualname -> object for the run, refusing names the run does not call and stubs."""
    exercises = {e.name: e for e in chapter_exercises(slug)}
    called = set(exercises if spec.exercises is None else spec.exercises)
    for name, obj in impl.items():
        if name not in called:
            runs = ", ".join(sorted(called)) or "none of the exercises"
            raise DlcError(f"{spec.name} does not call {name!r}: it runs {runs}")
        stubs = stubs_in(obj)
        if stubs:
            raise DlcError(
                f"{name} is not written yet ({', '.join(stubs)} raises NotImplementedError): "
                f'finish it and grade it with learn.check("{name}", ...)'
            )
    return {exercises[n].qualname: obj for n, obj in impl.items()}


def stubs_in(obj: Any) -> list[str]:
    """The parts of a function or class whose source still raises NotImplementedError
    (empty when its source cannot be read)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return []
    return [where for top in tree.body if isinstance(top, DEFS)
            for where, _ in find_stubs(top, top.name)]  # fmt: skip


def _yours(error: BaseException, objects: Any) -> str | None:
    """One line for an exception raised inside your objects' code, or None."""
    files = {f for f in map(_source_file, objects) if f is not None}
    where = None
    tb = error.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) in files:
            where = f"{tb.tb_frame.f_code.co_name}, line {tb.tb_lineno}"
        tb = tb.tb_next
    if where is None:
        return None
    if isinstance(error, NotImplementedError):
        return f"{where} is not written yet: fill it in and grade it with learn.check"
    return (
        f"your code raised {type(error).__name__}: {error} (in {where}); grade it with "
        "learn.check for a hint"
    )


def _source_file(obj: Any) -> Path | None:
    """The file that defines obj; None for a notebook cell (a kernel's temporary file, which
    would mean nothing to the learner) or a built-in."""
    try:
        path = Path(inspect.getfile(obj))
    except (OSError, TypeError):
        return None
    return None if path.parent.name.startswith("ipykernel_") else path


def show(result: Any) -> None:
    """Show a run's figures inline in a notebook (their paths elsewhere); nothing for None."""
    if result is None:
        return
    figures = sorted((result.run_dir / "figures").glob("*.png"))
    try:
        from IPython.display import Image, display
    except ImportError:
        print("\n".join(f"Figure: {f}" for f in figures))
        return
    for f in figures:
        display(Image(filename=str(f)))
