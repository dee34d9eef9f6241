"""``nearline-admin replay``: rebuild a projection from the log beside the live one,
compare them, and optionally swap the rebuilt rows in."""

from __future__ import annotations

from typing import Annotated

import typer

from admin.app import app
from nearline import bus
from nearline.settings import Settings
from projections.definitions import projection
from projections.migrate import upgrade
from projections.replay import (
    Progress,
    compare_with_live,
    converge,
    fresh_tables,
    live_targets,
    open_catalog,
    replay_until,
    swap,
)

WHICH = ("catalog", "status", "carts", "all")


def _report(progress: Progress) -> None:
    typer.echo(f"  replayed {progress.events:>10,} events  {progress.rate:>10,.0f} events/s")


@app.command("replay")
def replay_command(
    which: Annotated[str, typer.Argument(help="catalog, status, carts or all")] = "all",
    swap_in: Annotated[
        bool, typer.Option("--swap", help="replace the live tables with the rebuilt ones")
    ] = False,
    database: Annotated[
        str | None, typer.Option("--database", help="catalog database URL (default: settings)")
    ] = None,
) -> None:
    """Rebuild a projection from offset zero of its topics into fresh tables, then
    compare it with the live projection (row counts and content hashes per table)."""
    if which not in WHICH:
        raise typer.BadParameter(f"choose one of {', '.join(WHICH)}", param_hint="WHICH")
    settings = Settings()
    bus.prepare(settings)
    engine = open_catalog(database or settings.catalog.url)
    try:
        upgrade(engine)
        fresh_tables(engine, which)
        typer.echo(f"replaying {which} into fresh tables")
        replayed = projection(which, settings.s3.bucket)
        topics = replayed.topics
        progress = replay_until(
            engine, settings, replayed, live_targets(engine, settings, topics), _report
        )
        typer.echo(
            f"replayed {progress.events:,} events in {progress.seconds:.1f}s "
            f"({progress.rate:,.0f} events/s)"
        )
        tables = compare_with_live(engine, settings, which, _report)
        typer.echo(f"{'table':24} {'live rows':>10} {'replay rows':>12}  hashes")
        for row in tables:
            verdict = "same" if row.same else f"DIFFER {row.live_hash} {row.replay_hash}"
            typer.echo(f"{row.table:24} {row.live_rows:>10} {row.replay_rows:>12}  {verdict}")
        identical = all(row.same for row in tables)
        typer.echo("identical" if identical else "the replay differs from the live projection")
        if swap_in:

            def catch_up(targets: dict[tuple[str, int], int]) -> None:
                replay_until(engine, settings, replayed, targets, _report)

            positions = converge(
                engine,
                settings,
                which,
                lambda: swap(engine, which, topics, catch_up),
                _report,
                settled=False,
            )
            typer.echo(f"swapped: live {which} tables rebuilt at {len(positions)} positions")
        elif not identical:
            raise typer.Exit(1)
    finally:
        engine.dispose()
