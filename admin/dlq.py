"""``nearline-admin dlq``: list dead-lettered records and send them back to their
source topic (after a fix, or once their schema is registered)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from admin.app import app
from nearline.dead_letters import letters, redrive
from nearline.settings import Settings

dlq_app = typer.Typer(help="Dead-lettered records: list them, send them back.")
app.add_typer(dlq_app, name="dlq")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dlq_app.command("list")
def list_command(
    topic: Annotated[str | None, typer.Option("--topic", help="only this source topic")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Dead-lettered records with their reason, source topic, partition, offset and time."""
    found = 0
    for letter in letters(Settings(), topic):
        found += 1
        r = letter.record
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": letter.id,
                        "time": _when(r.occurred_at),
                        "kind": r.kind,
                        "reason": r.reason,
                        "source_topic": r.source_topic,
                        "source_partition": r.source_partition,
                        "source_offset": r.source_offset,
                        "transaction_id": r.transaction_id or None,
                        "size": len(r.value),
                    }
                )
            )
        else:
            typer.echo(
                f"{letter.id}  {_when(r.occurred_at)}  "
                f"{r.source_topic}[{r.source_partition}]@{r.source_offset}  {r.kind}: {r.reason}"
            )
    if not as_json:
        typer.echo(f"{found} dead-lettered record(s)")


@dlq_app.command("redrive")
def redrive_command(
    ids: Annotated[list[str] | None, typer.Option("--id", help="a dead letter's id")] = None,
    everything: Annotated[bool, typer.Option("--all", help="every dead letter")] = False,
    topic: Annotated[str | None, typer.Option("--topic", help="only this source topic")] = None,
) -> None:
    """Send dead-lettered records back to their source topic, byte for byte."""
    if bool(ids) == everything:
        raise typer.BadParameter("give --id (one or more) or --all")
    settings = Settings()
    wanted = set(ids or ())
    chosen = [letter for letter in letters(settings, topic) if everything or letter.id in wanted]
    missing = wanted - {letter.id for letter in chosen}
    if missing:
        typer.echo(f"no dead letter with id {', '.join(sorted(missing))}", err=True)
        raise typer.Exit(1)
    count = redrive(settings, chosen)
    typer.echo(f"re-drove {count} record(s)")
