"""``history``: every event about one of your holdings, transactions or paths, as the
server reads them from its log (``GET /history``; operators have ``nearline admin
history``, which reads Kafka itself)."""

from __future__ import annotations

from typing import Annotated

import typer

from client.cli import app
from client.cli.common import HoldingId, Json, Server, client, handled, print_json, print_table
from client.cli.figures import figures_text
from client.library.models import HistoryEntry
from client.library.paths import absolute


@app.command()
@handled
def history(
    holding_id: HoldingId = None,
    transaction: Annotated[
        str | None, typer.Option("--transaction", "-T", help="A transaction id.")
    ] = None,
    path: Annotated[str | None, typer.Option("--path", "-p", help="A file's path.")] = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Show every event about a holding, a transaction or a path of yours, oldest first:
    when, what, the transaction, the state and, while files moved, how far they got."""
    if holding_id is None and transaction is None and path is None:
        raise typer.BadParameter("give --holding-id, --transaction or --path")
    with client(server) as nearline:
        events = nearline.history(
            holding_id=holding_id,
            transaction_id=transaction,
            path=absolute(path) if path is not None else None,
        )
    if as_json:
        print_json(events)
        return
    print_table(
        "Events",
        ["time", "event", "transaction", "holding", "state", "progress"],
        (
            [
                e["time"].replace("T", " ")[:23],
                e["event_type"],
                e["transaction_id"],
                e["holding_id"],
                e["state"],
                _figures(e),
            ]
            for e in events
        ),
    )


def _figures(entry: HistoryEntry) -> str | None:
    progress = entry.get("progress")
    return figures_text(progress, None) if progress else None
