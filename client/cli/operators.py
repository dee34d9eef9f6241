"""``nearline admin ...`` and ``nearline events ...``: the operator commands are no longer
part of the users' command; they are ``nearline-admin ...``, installed with the server
(D141). These hidden commands only say so, with the command line to run instead, and
exit 2 (a usage error), so that a script still calling them fails loudly."""

from __future__ import annotations

import shlex

import typer

from client.cli import app
from client.cli.common import err

ANYTHING = {"allow_extra_args": True, "ignore_unknown_options": True}


def moved(words: list[str]) -> None:
    err.print(
        "Error: operator commands are not part of `nearline`; they are `nearline-admin`, "
        "installed with the server. On a server host run:",
        markup=False,
        highlight=False,
    )
    err.print(f"  {shlex.join(['nearline-admin', *words])}", markup=False, highlight=False)
    raise typer.Exit(2)


@app.command("admin", hidden=True, add_help_option=False, context_settings=ANYTHING)
def admin(context: typer.Context) -> None:
    """Moved to ``nearline-admin``."""
    moved(context.args)


@app.command("events", hidden=True, add_help_option=False, context_settings=ANYTHING)
def events(context: typer.Context) -> None:
    """Moved to ``nearline-admin events``."""
    moved(["events", *context.args])
