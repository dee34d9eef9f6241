"""The ``nearline`` command: user commands talk to the HTTP API through the client
library, and nothing here imports the server. Operators have their own command,
``nearline-admin`` (``admin``, installed with the server); ``nearline admin ...`` only
says so (``client.cli.operators``, D141)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="nearline",
    help="Put files into nearline holdings, get them back, and follow your requests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def main() -> None:
    # Each module registers its commands on ``app`` when imported.
    from client.cli import commands  # noqa: F401

    app()
