"""The consoles every command prints to. Text is printed as written, never read as markup, so
a message holding `[rl]`, `[1, 2]` or `[/path]` shows as it is; colour is given explicitly with
`rich.text.Text.assemble(("PASS", "green"), ...)`."""

from rich.console import Console

out = Console(markup=False, highlight=False)
# errors are one line whatever the terminal width, so scripts and tests can read them
err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
