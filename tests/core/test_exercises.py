"""The learner-mode contract, for every chapter that registers exercises (STYLE.md §5)."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from dlcurriculum import catalog
from dlcurriculum.core import exercises
from dlcurriculum.core.checks import run_check
from dlcurriculum.core.errors import DlcError

SOURCE = '''\
def f(x: int) -> int:
    """Double x."""
    # BEGIN SOLUTION
    # HINT: multiply by two
    y = x * 2
    return y
    # END SOLUTION


class A:
    def g(self) -> int:
        """Three."""
        # BEGIN SOLUTION
        return 3
        # END SOLUTION
'''


def test_make_skeleton_stubs_blocks_and_keeps_hints() -> None:
    skeleton = exercises.make_skeleton(SOURCE)
    assert "x * 2" not in skeleton and "return 3" not in skeleton
    assert "# HINT: multiply by two" in skeleton
    assert '    raise NotImplementedError("f: see the docstring")' in skeleton
    assert '        raise NotImplementedError("g: see the docstring")' in skeleton
    namespace: dict = {}
    exec(compile(skeleton, "<skeleton>", "exec"), namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


@pytest.mark.parametrize(
    "bad",
    [
        "# BEGIN SOLUTION\n# BEGIN SOLUTION\n",
        "# END SOLUTION\n",
        "def f():\n    # BEGIN SOLUTION\n",
    ],
)
def test_make_skeleton_rejects_unbalanced_markers(bad: str) -> None:
    with pytest.raises(ValueError):
        exercises.make_skeleton(bad)


REGISTERED = [
    (ch.slug, ex)
    for ch in catalog.chapters().values()
    for ex in exercises.chapter_exercises(ch.slug)
]


def test_some_chapters_register_exercises() -> None:
    assert {slug for slug, _ in REGISTERED} >= {"ch00_mnist"}


@pytest.fixture(scope="module")
def skeleton_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workspace = tmp_path_factory.mktemp("workspace")
    for slug in {slug for slug, _ in REGISTERED}:
        exercises.start(slug, workspace)
    return workspace


@pytest.mark.parametrize(("slug", "ex"), REGISTERED, ids=[f"{s}:{e.name}" for s, e in REGISTERED])
def test_check_passes_on_reference(slug: str, ex: exercises.Exercise) -> None:
    module = importlib.import_module(f"dlcurriculum.{slug}.{ex.module}")
    check = getattr(importlib.import_module(f"dlcurriculum.{slug}.checks"), ex.check)
    result = run_check(ex.name, check, getattr(module, ex.qualname), None)
    assert result.passed, result.message


@pytest.mark.parametrize(("slug", "ex"), REGISTERED, ids=[f"{s}:{e.name}" for s, e in REGISTERED])
def test_check_fails_on_skeleton_as_not_implemented(
    slug: str, ex: exercises.Exercise, skeleton_workspace: Path
) -> None:
    [result] = exercises.check(slug, skeleton_workspace, only=ex.name)
    assert not result.passed
    assert result.message.startswith("not implemented yet"), result.message


@pytest.mark.parametrize(("slug", "ex"), REGISTERED, ids=[f"{s}:{e.name}" for s, e in REGISTERED])
def test_skeleton_keeps_signature_and_docstring(
    slug: str, ex: exercises.Exercise, skeleton_workspace: Path
) -> None:
    reference = getattr(importlib.import_module(f"dlcurriculum.{slug}.{ex.module}"), ex.qualname)
    learner = getattr(
        exercises.load_learner_module(skeleton_workspace, slug, ex.module), ex.qualname
    )
    assert str(inspect.signature(learner)) == str(inspect.signature(reference))
    assert inspect.getdoc(learner) == inspect.getdoc(reference)
    source = exercises.learner_file(skeleton_workspace, slug, ex.module).read_text()
    ast.parse(source)
    assert "# BEGIN SOLUTION" not in source and "NotImplementedError" in source


def test_start_never_overwrites(tmp_path: Path) -> None:
    [(path, written), *_] = exercises.start("ch00_mnist", tmp_path)
    assert written
    path.write_text("# my work\n")
    assert all(not w for _, w in exercises.start("ch00_mnist", tmp_path))
    assert path.read_text() == "# my work\n"


def test_broken_learner_file_is_reported_not_raised(tmp_path: Path) -> None:
    exercises.start("ch00_mnist", tmp_path)
    exercises.learner_file(tmp_path, "ch00_mnist", "model").write_text("def oops(:\n")
    results = {r.name: r for r in exercises.check("ch00_mnist", tmp_path)}
    assert "does not import: SyntaxError" in results["cnn"].message
    with pytest.raises(DlcError, match="unknown exercise 'nope'"):
        exercises.check("ch00_mnist", tmp_path, only="nope")


def test_learner_modules_import_each_other_not_the_reference(tmp_path: Path) -> None:
    exercises.start("ch01_transformers", tmp_path)
    folder = tmp_path / "ch01_transformers"
    model_src = (folder / "model.py").read_text()
    assert "from .attention import" in model_src
    assert "from dlcurriculum.ch01_transformers.attention import" not in model_src
    ns = exercises.resolve("ch01_transformers", tmp_path)
    learner_model = importlib.import_module(ns.Transformer.__module__)
    assert learner_model.Attention is ns.Attention
    assert ns.Attention.__module__.startswith("dlc_workspace_")
    # an edit is picked up by the next resolve
    (folder / "attention.py").write_text((folder / "attention.py").read_text() + "\nEDITED = 1\n")
    again = exercises.resolve("ch01_transformers", tmp_path)
    assert importlib.import_module(again.Attention.__module__).EDITED == 1


def test_a_stub_in_a_dependency_is_named(tmp_path: Path) -> None:
    """LayerNorm.forward still a stub: `transformer`'s check names it and where it is."""
    from tests.mutations import Mutation, assert_named

    stub = Mutation(
        "transformer",
        "        var = x.var(dim=-1, keepdim=True, correction=0)\n",
        '        raise NotImplementedError("forward: see the docstring")\n',
        r"LayerNorm\.forward is not written yet \(model\.py:\d+\); `transformer` uses it",
        module="model",
    )
    assert_named("ch01_transformers", stub, tmp_path)
