"""The one error type a user can cause; the CLI prints it as a single line, exit code 2."""


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
