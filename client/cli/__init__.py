"""The ``nearline`` command: user commands talk to the HTTP API through the client
library; ``nearline admin`` commands are for operators and talk to Kafka and the catalog
database directly (``admin``)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="nearline",
    help="Put files into nearline holdings, get them back, and follow your requests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
admin_app = typer.Typer(
    help="Operate nearline: consumer lag, replay, dead letters, history.",
    no_args_is_help=True,
)
app.add_typer(admin_app, name="admin")


def main() -> None:
    # Each module registers its commands on ``app`` or ``admin_app`` when imported.
    from admin import commands as admin_commands  # noqa: F401
    from client.cli import commands  # noqa: F401

    app()
