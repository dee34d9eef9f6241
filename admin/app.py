"""``nearline-admin``: the operators' own command, apart from the users' ``nearline``.

Every operator command is here: ``serve``, ``lag``, ``replay``, ``history``, ``dlq``,
``archive``, ``evict``, ``orphans`` and ``events tail`` (each in a module of its own, imported by
``admin.commands``). They read Kafka and the catalog database with the deployment's
settings, not a user's token. The client never imports this package (D141): a user's
``nearline`` carries no server code, and ``nearline admin ...`` only points here.
"""

from __future__ import annotations

import typer
from sqlalchemy.exc import DBAPIError

app = typer.Typer(
    help="nearline's operator commands: run the service and look after it.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _commands() -> None:
    """nearline's operator commands (the service's settings: NEARLINE_* or NEARLINE_CONFIG)."""


def main() -> None:
    # Each module registers its commands on ``app`` when imported.
    from admin import commands  # noqa: F401

    try:
        app()
    except DBAPIError as error:  # one line an operator can act on, not a traceback
        reason = str(error.orig).strip().splitlines()[0]
        typer.echo(
            f"nearline-admin: the catalog database could not be read ({reason}). Check "
            "catalog.url (NEARLINE_CATALOG__URL), that the database is up, and that the "
            "service has run once there (its processes create the tables).",
            err=True,
        )
        raise SystemExit(1) from None
