"""The carts projection: each cart's state, and the files of a cart once it is bundled.

States only move forward (waiting, staging, bundling, then ready or error), so a state
fact redelivered after a later one changes nothing; a deleted or purged cart is a
tombstone that no later fact revives.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select, update

from events.base import Event
from events.carts import (
    CartDeleteRequested,
    CartDownloaded,
    CartOfFilesRequested,
    CartRequested,
    CartStateChanged,
)
from projections import tables as t
from projections.writes import insert_ignoring_duplicates

RANK = {"waiting": 0, "staging": 1, "bundling": 2, "ready": 3, "error": 3}
GONE = frozenset({"deleted", "purged"})


def apply(conn: Connection, events: Sequence[Event]) -> None:
    for event in events:
        match event:
            case CartRequested():
                _requested(conn, event)
            case CartOfFilesRequested():
                _requested(conn, event)
            case CartStateChanged():
                _state_changed(conn, event)
            case CartDownloaded():
                conn.execute(
                    update(t.carts)
                    .where(t.carts.c.cart_id == event.cart_id, t.carts.c.state == "ready")
                    .values(last_access=event.occurred_at)
                )
            case CartDeleteRequested():
                _gone(conn, event.cart_id, "deleted", "deleted by its owner", event.occurred_at)


def _requested(conn: Connection, event: CartRequested | CartOfFilesRequested) -> None:
    named = event if isinstance(event, CartOfFilesRequested) else None
    row = {
        "cart_id": event.cart_id,
        "user": event.user,
        "group": event.group,
        "state": "waiting",
        "message": "",
        "file_count": 0,
        "total_size": 0,
        "created_at": event.occurred_at,
        "updated_at": event.occurred_at,
        "last_access": None,
        "client_uid": named.client_uid if named else None,
        "bundle": named.bundle if named else None,
    }
    insert_ignoring_duplicates(conn, t.carts, [row])
    if named and _state(conn, event.cart_id) not in GONE:  # a redelivery revives nothing
        entries = [
            {"cart_id": event.cart_id, "position": i, "member": f["member"]}
            for i, f in enumerate(named.files)
        ]
        insert_ignoring_duplicates(conn, t.cart_entries, entries)


def _state(conn: Connection, cart_id: str) -> str | None:
    return conn.execute(select(t.carts.c.state).where(t.carts.c.cart_id == cart_id)).scalar()


def _state_changed(conn: Connection, event: CartStateChanged) -> None:
    current = conn.execute(
        select(t.carts.c.state, t.carts.c.user).where(t.carts.c.cart_id == event.cart_id)
    ).first()
    if current is None or current.state in GONE or current.user != event.user:
        return
    if event.state in GONE:
        _gone(conn, event.cart_id, event.state, event.message, event.occurred_at)
        return
    if RANK.get(event.state, -1) <= RANK.get(current.state, -1):
        return  # a redelivered, older state
    values: dict[str, object] = {
        "state": event.state,
        "message": event.message,
        "updated_at": event.occurred_at,
    }
    if event.file_ids:
        conn.execute(delete(t.cart_files).where(t.cart_files.c.cart_id == event.cart_id))
        rows = [
            {"cart_id": event.cart_id, "position": i, "file_id": file_id}
            for i, file_id in enumerate(event.file_ids)
        ]
        conn.execute(t.cart_files.insert(), rows)
        values |= {"file_count": len(event.file_ids), "total_size": event.total_size}
    conn.execute(update(t.carts).where(t.carts.c.cart_id == event.cart_id).values(**values))


def _gone(conn: Connection, cart_id: str, state: str, message: str, when: int) -> None:
    conn.execute(delete(t.cart_files).where(t.cart_files.c.cart_id == cart_id))
    conn.execute(delete(t.cart_entries).where(t.cart_entries.c.cart_id == cart_id))
    conn.execute(
        update(t.carts)
        .where(t.carts.c.cart_id == cart_id, t.carts.c.state.not_in(GONE))
        .values(state=state, message=message, updated_at=when)
    )
