"""``nearline-admin events tail TOPIC``: a topic's records decoded for people, one JSON object
per line (paths as text, non-UTF-8 bytes escaped as ``\\xff``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from admin.app import app
from nearline.observe.tail import read
from nearline.settings import get_settings

events_app = typer.Typer(help="Read nearline's event topics.", no_args_is_help=True)
app.add_typer(events_app, name="events")


@events_app.command("tail")
def tail(
    topic: Annotated[str, typer.Argument(help="e.g. nearline.catalog")],
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="the first records instead of the last")
    ] = False,
    count: Annotated[
        int | None,
        typer.Option(
            "-n", "--count", help="how many records (default 10; all with --from-beginning)"
        ),
    ] = None,
) -> None:
    """Print the last records of TOPIC (or its first, with --from-beginning), oldest first."""
    if count is None and not from_beginning:
        count = 10
    try:
        records = read(get_settings(), topic, count, from_beginning)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for record in records:
        typer.echo(json.dumps(record, ensure_ascii=False))
