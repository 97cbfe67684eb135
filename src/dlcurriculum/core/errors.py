"""The one error type a user can cause; the CLI prints it as a single line, exit code 2."""


class DlcError(Exception):
    """A problem the user can fix. The message names the problem and the fix."""
