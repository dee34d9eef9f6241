"""``nearline-admin history``: every event that touched a holding, a transaction or a
path, read from the log."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from admin.app import app
from nearline.history import Query, history
from nearline.settings import Settings


@app.command("history")
def history_command(
    holding: Annotated[int | None, typer.Option("--holding", help="a holding id")] = None,
    transaction: Annotated[
        str | None, typer.Option("--transaction", help="a transaction id")
    ] = None,
    path: Annotated[str | None, typer.Option("--path", help="a file's path")] = None,
    user: Annotated[str | None, typer.Option("--user", help="only this user's events")] = None,
) -> None:
    """Every event of the requests, catalog and status topics that touched it, in order,
    with time, actor, cause and event type."""
    if [holding, transaction, path].count(None) != 2:
        raise typer.BadParameter("give exactly one of --holding, --transaction, --path")
    query = Query(
        holding_id=holding,
        transaction_id=transaction,
        path=os.fsencode(path) if path is not None else None,
        user=user,
    )
    entries = history(Settings(), query)
    for entry in entries:
        event = entry.event
        when = datetime.fromtimestamp(entry.occurred_at / 1000, UTC).isoformat(
            timespec="milliseconds"
        )
        state = getattr(event, "state", None)
        typer.echo(
            f"{when}  {event.user:12} {entry.event_type:24} {event.transaction_id}"
            f"  cause={event.cause_id or '-'}  id={event.event_id}"
            + (f"  state={state}" if state else "")
        )
    typer.echo(f"{len(entries)} event(s)")
