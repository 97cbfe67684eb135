"""Every bad input, on every command, ends in one line `error: ...` that names the input, exit
code 2, no traceback, and leaves the folder as it was (nothing created, nothing deleted)."""

import sqlite3
import sys
from pathlib import Path

import pytest

from dlcurriculum import cli
from dlcurriculum.core.exercises import start

CH1_EXERCISES = (
    "sinusoidal_pos_embed, attention_pattern, attention, causal_mask, layer_norm, "
    "multi_head_attention, transformer_block, transformer, first_principles (written)"
)

# (arguments, a fragment of the error line). Paths are relative to a folder holding: `afile`
# (a file), `ws` (a chapter 0 and chapter 5 workspace, stubs not filled in), `torn` (a run
# folder whose config.json is cut off), `empty.sqlite` (a label store without samples) and
# `notes.jsonl` (a text file that is not JSONL).
BAD_INPUTS = [
    (["nope"], "No such command 'nope'"),
    (["run"], "Missing argument 'experiment'"),
    (["run", "mnist", "--outt", "x"], "No such option: --outt"),
    (["run", "mnist", "--preset"], "'--preset' requires an argument"),
    (["run", "nope"], "unknown experiment 'nope'"),
    (["run", "mnist", "--preset", "huge"], "unknown preset 'huge'"),
    (["run", "mnist", "--set", "lr"], "--set 'lr' is malformed"),
    (["run", "mnist", "--set", "=3"], "--set '=3' is malformed"),
    (["run", "mnist", "--set", "learning_rate=1"], "has no field 'learning_rate'"),
    (["run", "mnist", "--set", "epochs=two"], "epochs=two: expected an integer"),
    (["run", "mnist", "--set", "epochs=1e30"], "epochs=1e30: expected an integer"),
    (["run", "mnist", "--set", "augment=yes"], "augment=yes: expected an integer"),
    (["run", "mnist", "--set", "epochs=0", "--dry-run"], "epochs must be >= 1, got 0"),
    (["run", "mnist", "--set", "lr=nan", "--dry-run"], "lr=nan"),
    (["run", "mnist", "--set", "lr=-1", "--dry-run"], "lr must be > 0, got -1.0"),
    (["run", "mnist", "--set", "batch_size=0", "--dry-run"], "batch_size must be >= 1, got 0"),
    (["run", "mnist", "--set", "width=0"], "width must be >= 1, got 0"),
    (["run", "mnist", "--set", "dropout=1.5"], "dropout must be in [0, 1), got 1.5"),
    (["run", "mnist", "--set", "device=tpu"], "device 'tpu': unknown device"),
    (["run", "mnist", "--device", "cuda"], "no CUDA GPU"),
    (["run", "mnist", "--impl", "missing"], "--impl missing: no such folder"),
    (["run", "mnist", "--impl", "ws"], "not written yet: CNN.__init__ (ws/ch00_mnist/model.py"),
    (["run", "vae", "--impl", "ws"], "vae runs none of the exercises"),
    (["run", "mnist", "--out", "afile", "--preset", "smoke"], "--out afile: afile is a file"),
    (["label", "status", "--db", "afile"], "afile"),
    (["label", "rate", "--db", "missing.sqlite", "--a", "x", "--b", "y"], "missing.sqlite"),
    (["run", "mnist", "--out", "/proc/dlc", "--preset", "smoke"], "/proc/dlc"),
    (["run", "mnist", "--resume", "."], "not a run folder"),
    (["run", "mnist", "--resume", "afile"], "afile"),
    (["run", "mnist", "--resume", "torn"], "torn/config.json"),
    (["run", "mnist", "--plan"], "not a sweep"),
    (["report", "."], "not a run folder"),
    (["report", "torn"], "torn/config.json"),
    (["report", "missing"], "missing"),
    (["eval", "torn"], "torn/config.json"),
    (["show", "42"], "unknown chapter '42'"),
    (["start", "42"], "unknown chapter '42'"),
    (["start", "1", "--dir", "/proc/dlc"], "/proc/dlc"),
    (["start", "1", "--dir", "afile"], "afile"),
    (["check", "42"], "unknown chapter '42'"),
    (["check", "0", "nope", "--dir", "ws"], "unknown exercise 'nope'"),
    (["check", "0", "--dir", "afile"], "afile"),
    (["hint", "0", "nope"], "nope"),
    (["solution", "0", "nope", "--yes"], "nope"),
    (["solution", "1", "bogus", "--yes"], "'bogus': its exercises are " + CH1_EXERCISES),
    (["solution", "7", "elk_proposal", "--yes"], "written exercise with no answers of ours"),
    (["list", "--runs", "afile"], "afile"),
    (["progress", "--dir", "afile"], "afile"),
    (["data", "fetch", "cifar"], "unknown dataset 'cifar'"),
    (["site", "build", "--runs", "afile"], "afile"),
    (["site", "build", "--out", "afile"], "afile"),
    (["site", "serve", "--port", "99999"], "--port 99999"),
    (["site", "serve", "--out", "missing"], "missing"),
    (["label", "serve", "--db", "/proc/dlc/l.sqlite"], "/proc/dlc"),
    (["label", "serve", "--db", "afile"], "afile"),
    (["label", "serve", "--db", "empty.sqlite"], "empty.sqlite holds no samples"),
    (["label", "status", "--db", "missing.sqlite"], "missing.sqlite"),
    (["label", "export", "--db", "missing.sqlite", "out.jsonl"], "missing.sqlite"),
    (["label", "import", "--db", "empty.sqlite", "missing.jsonl"], "missing.jsonl"),
    (["label", "import", "--db", "empty.sqlite", "notes.jsonl"], "notes.jsonl"),
    (["label", "rate", "--db", "empty.sqlite", "--a", "x", "--b", "y"], "'x'"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "afile").write_text("not a folder\n")
    start("ch00_mnist", root / "ws")
    start("ch05_modeling_objectives", root / "ws")
    torn = root / "torn"
    torn.mkdir()
    (torn / "config.json").write_text('{"experiment": "mnist", "seed"')
    from dlcurriculum.ch07_alignment.labels import LabelStore

    LabelStore(root / "empty.sqlite")
    (root / "notes.jsonl").write_text("my notes, not labels\n")
    return root


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")
    }


@pytest.mark.parametrize(("args", "fragment"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_a_bad_input_is_one_error_line(
    folder: Path,
    args: list[str],
    fragment: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert len(BAD_INPUTS) >= 40
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "argv", ["dlc", *args])
    before = _snapshot(folder)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    captured = capsys.readouterr()
    assert exit_.value.code == 2, (captured.out, captured.err)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in captured.out + captured.err
    assert _snapshot(folder) == before, "a refused command must not create, change or delete files"


def test_label_store_is_sqlite(folder: Path) -> None:
    """The fixture's empty label store is a real SQLite file (so its row tests real refusals)."""
    with sqlite3.connect(folder / "empty.sqlite") as db:
        assert db.execute("select count(*) from sqlite_master").fetchone()[0] > 0
