"""``nearline-admin orphans``: objects of the S3 cache that no cataloged file names.

An upload stored but never recorded (its writer killed between the two), or an object
whose removal failed after its file left the catalog, stays in the bucket for good and
counts against the store. This lists them, and with ``--delete`` removes them.

The bucket's listing and the catalog's named objects are read side by side, both
ascending by the keys' bytes, in constant memory; an object is an orphan when the
catalog does not name it (nor any slice of it, for a pack), its key has the shape of
nearline's own (``h{holding}/{transaction}/...``: other tenants' objects are never
touched), and it is older than ``--older-than-days``: an upload whose record is on its
way is young. Deleting also needs the catalog projection to have applied every
catalog fact written before the run began; otherwise the orphans are only listed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Annotated

import typer
from sqlalchemy import Engine

from admin.app import app
from domain.object_keys import is_object_key
from events.topics import CATALOG
from nearline.settings import Settings, get_settings
from projections.db import catalog_engine
from projections.definitions import LIVE
from projections.queries.cache_objects import named_objects
from projections.replay import high_watermarks
from projections.runner import stored_positions
from stores.s3.object_store import Listed, ObjectStore

DAY_S = 86_400
DELETE_BATCH = 1000  # objects per delete request
CATCH_UP_S = 30.0  # how long a deleting run waits for the projection to catch up


class OutOfOrder(Exception):
    """A listing was not in ascending key order: the comparison would be wrong."""


def orphans(
    listed: Iterable[Listed], named: Iterable[str], older_than_s: float, now_s: float
) -> Iterator[Listed]:
    """The objects of ``listed`` that ``named`` lacks, of nearline's own shape and older
    than ``older_than_s``. Both must ascend by key (``named`` may repeat none); raises
    ``OutOfOrder`` where either does not, as a merge of unordered lists would call
    named objects orphans."""
    names = iter(named)
    name = next(names, None)
    previous = None
    for item in listed:
        if previous is not None and item.key <= previous:
            raise OutOfOrder(f"the store listed {item.key!r} after {previous!r}")
        previous = item.key
        while name is not None and name < item.key:
            following = next(names, None)
            if following is not None and following <= name:
                raise OutOfOrder(f"the catalog named {following!r} after {name!r}")
            name = following
        if name == item.key or not is_object_key(item.key):
            continue
        if now_s - item.modified_s >= older_than_s:
            yield item


def caught_up(settings: Settings, engine: Engine, wait_s: float = CATCH_UP_S) -> int:
    """Wait up to ``wait_s`` for the projection to apply every catalog fact written
    before the call; the facts it still lacks then (0: caught up)."""
    ends = high_watermarks(settings, (CATALOG,))
    deadline = time.monotonic() + wait_s
    while True:
        applied = stored_positions(engine, LIVE)
        behind = sum(max(0, end - applied.get(where, 0)) for where, end in ends.items())
        if not behind or time.monotonic() >= deadline:
            return behind
        time.sleep(0.5)


@app.command("orphans")
def orphans_command(
    older_than_days: Annotated[
        float, typer.Option("--older-than-days", help="Only objects at least this old.")
    ] = 7.0,
    prefix: Annotated[
        str, typer.Option("--prefix", help="Only keys under this prefix (e.g. h42/).")
    ] = "h",
    delete: Annotated[bool, typer.Option("--delete", help="Remove the orphans found.")] = False,
) -> None:
    """List objects of the S3 cache that no cataloged file names; with --delete, remove
    them."""
    settings = get_settings()
    engine = catalog_engine(settings)
    try:
        if delete:
            behind = caught_up(settings, engine)
            if behind:
                typer.echo(
                    f"the catalog projection has {behind} facts to apply: orphans are "
                    "listed, not deleted (run again once it has caught up)",
                    err=True,
                )
                delete = False
        found, size = _sweep(settings, engine, older_than_days * DAY_S, prefix, delete)
    except OutOfOrder as error:
        typer.echo(f"stopped, nothing more deleted: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    verb = "deleted" if delete else "found (run with --delete to remove them)"
    typer.echo(f"{verb}: {found} orphan objects, {size} bytes")


def _sweep(
    settings: Settings, engine: Engine, older_than_s: float, prefix: str, delete: bool
) -> tuple[int, int]:
    """Print each orphan under ``prefix`` (deleting them if asked); their count and bytes."""
    now = time.time()
    found = size = 0
    doomed: list[str] = []
    with ObjectStore(settings) as store, engine.connect() as conn:
        named = named_objects(conn, store.bucket)
        for item in orphans(store.listing(prefix), named, older_than_s, now):
            found, size = found + 1, size + item.size
            age = (now - item.modified_s) / DAY_S
            typer.echo(f"{item.key}\t{item.size} bytes\t{age:.1f} days old")
            if delete:
                doomed.append(item.key)
                if len(doomed) >= DELETE_BATCH:
                    _delete(store, doomed)
        if doomed:
            _delete(store, doomed)
    return found, size


def _delete(store: ObjectStore, keys: list[str]) -> None:
    refused = store.delete_many(keys)
    for reason in refused:
        typer.echo(f"not deleted: {reason}", err=True)
    keys.clear()
