"""``nearline-admin archive`` and ``nearline-admin evict``: run the archive sweep or the
eviction policy now, or show what they would do."""

from __future__ import annotations

from typing import Annotated

import typer

from admin.app import app
from nearline import bus
from nearline.settings import get_settings
from processors.sweeper.passes import archive_sweep, eviction_pass
from processors.sweeper.wiring import ProjectionReads
from projections.db import catalog_engine


@app.command()
def archive(
    now: Annotated[bool, typer.Option("--now", help="Send the aggregates to tape now.")] = False,
    holding: Annotated[
        list[int] | None, typer.Option("--holding", help="Only these holdings' files.")
    ] = None,
) -> None:
    """Show the aggregates the archive sweep would send to tape; with --now, send them."""
    settings = get_settings()
    engine = catalog_engine(settings)
    producer = bus.producer(settings) if now else None
    try:
        requests = archive_sweep(settings, ProjectionReads(engine), producer, holding or None)
    finally:
        engine.dispose()
    for request in requests:
        size = sum(m["size"] for m in request.members)
        typer.echo(
            f"holding {request.holding_id} ({request.user}): "
            f"{len(request.members)} files, {size} bytes"
        )
    files = sum(len(r.members) for r in requests)
    verb = "sent" if now else "would send (run with --now to send)"
    typer.echo(f"{verb}: {len(requests)} aggregates of {files} files")


@app.command()
def evict(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show what would be evicted.")
    ] = False,
) -> None:
    """Remove cache copies of archived files now, down to the low watermark."""
    settings = get_settings()
    engine = catalog_engine(settings)
    producer = None if dry_run else bus.producer(settings)
    try:
        done = eviction_pass(settings, ProjectionReads(engine), producer)
    finally:
        engine.dispose()
    plan, capacity = done.plan, settings.eviction.cache_capacity_bytes
    typer.echo(
        f"cache use {plan.usage} of {capacity} bytes ({plan.usage / capacity:.1%}); "
        f"high watermark {settings.eviction.high_watermark:.0%}, "
        f"low {settings.eviction.low_watermark:.0%}"
    )
    for request in done.requests:
        typer.echo(f"holding {request.holding_id} ({request.user}): {len(request.files)} files")
    verb = "would evict" if dry_run else "evicting"
    typer.echo(f"{verb} {len(plan.chosen)} cache copies, {plan.freed} bytes")
