"""The holdings catalog: holdings, tags, transactions, files, checksums and locations,
materialised from the facts on the catalog topic."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, delete, select, update

from events.base import Event
from events.catalog import (
    ArchiveScheduled,
    FilesArchived,
    FilesCataloged,
    FilesDeleted,
    FilesEvicted,
    FilesRecalled,
    FilesReserved,
    FilesRetrieved,
    HoldingCreated,
    HoldingDeleted,
    HoldingRelabeled,
    HoldingTagsChanged,
    TransactionAccepted,
)
from projections import tables as t
from projections.queries import chunked
from projections.writes import file_id, insert_ignoring_duplicates, upsert

NAME = "catalog"


def apply(conn: Connection, events: Sequence[Event], bucket: str) -> None:
    """Apply a poll batch of facts in order, within the caller's transaction."""
    for event in events:
        match event:
            case HoldingCreated():
                insert_ignoring_duplicates(
                    conn,
                    t.holdings,
                    [
                        {
                            "id": event.holding_id,
                            "user": event.user,
                            "group": event.group,
                            "label": event.label,
                            "transaction_id": event.transaction_id,
                            "created_at": event.occurred_at,
                            "deleted": False,
                        }
                    ],
                )
                upsert(
                    conn,
                    t.tags,
                    [
                        {"holding_id": event.holding_id, "key": k, "value": v}
                        for k, v in event.tags.items()
                    ],
                    keys=("holding_id", "key"),
                )
            case TransactionAccepted() if event.holding_id is not None:
                insert_ignoring_duplicates(
                    conn,
                    t.transactions,
                    [
                        {
                            "transaction_id": event.transaction_id,
                            "holding_id": event.holding_id,
                            "user": event.user,
                            "group": event.group,
                            "api_action": event.api_action,
                            "job_label": event.job_label,
                            "ingest_time": event.occurred_at,
                        }
                    ],
                )
            case FilesReserved():
                _reserve(conn, event)
            case FilesCataloged():
                _catalog(conn, event, bucket)
            case FilesRetrieved() if event.restored:
                _accessed(conn, event)
            case FilesDeleted():
                _delete_files(conn, event)
            case HoldingDeleted():
                # The row stays (the files keep their holding) under a label no user
                # label can be (labels hold no control characters): the label is free.
                conn.execute(
                    update(t.holdings)
                    .where(t.holdings.c.id == event.holding_id)
                    .values(deleted=True, label=deleted_label(event.holding_id))
                )
            case HoldingRelabeled():
                conn.execute(
                    update(t.holdings)
                    .where(t.holdings.c.id == event.holding_id)
                    .values(label=event.label)
                )
            case HoldingTagsChanged():
                conn.execute(delete(t.tags).where(t.tags.c.holding_id == event.holding_id))
                upsert(
                    conn,
                    t.tags,
                    [
                        {"holding_id": event.holding_id, "key": k, "value": v}
                        for k, v in event.tags.items()
                    ],
                    keys=("holding_id", "key"),
                )
            case ArchiveScheduled():
                insert_ignoring_duplicates(
                    conn,
                    t.archive_pending,
                    [
                        {
                            "file_id": id_,
                            "transaction_id": event.transaction_id,
                            "since": event.occurred_at,
                        }
                        for id_ in event.file_ids
                    ],
                )
            case FilesArchived():
                _archived(conn, event)
            case FilesRecalled() if event.recalled:
                _recalled(conn, event, bucket)
            case FilesEvicted():
                for ids in _chunks([f["file_id"] for f in event.files]):
                    conn.execute(
                        delete(t.locations).where(
                            and_(
                                t.locations.c.file_id.in_(ids),
                                t.locations.c.storage_type == "OBJECT_STORAGE",
                            )
                        )
                    )


def deleted_label(holding_id: int) -> str:
    """The label a deleted holding's row keeps: never a user's label, unique per id."""
    return f"\x1fdeleted\x1f{holding_id}"


def _delete_files(conn: Connection, fact: FilesDeleted) -> None:
    """Deleted files stay as rows marked DELETED, without their object-store copies."""
    ids = [file_id(fact.holding_id, f["transaction_id"], f["path"]) for f in fact.files]
    if not ids:
        return
    conn.execute(update(t.files).where(t.files.c.id.in_(ids)).values(state="DELETED"))
    loc = t.locations
    conn.execute(
        delete(loc).where(and_(loc.c.file_id.in_(ids), loc.c.storage_type == "OBJECT_STORAGE"))
    )


def _reserve(conn: Connection, fact: FilesReserved) -> None:
    insert_ignoring_duplicates(
        conn,
        t.files,
        [
            {
                "id": file_id(fact.holding_id, fact.transaction_id, f["path"]),
                "holding_id": fact.holding_id,
                "transaction_id": fact.transaction_id,
                "path": f["path"],
                "path_type": f["path_type"],
                "link_path": f["link_path"],
                "size": f["size"],
                "mode": f["mode"],
                "uid": f["uid"],
                "gid": f["gid"],
                "mtime_ns": f["mtime_ns"],
                "state": "RESERVED",
                "created_at": fact.occurred_at,
            }
            for f in fact.files
        ],
    )


def _catalog(conn: Connection, fact: FilesCataloged, bucket: str) -> None:
    ids = [file_id(fact.holding_id, fact.transaction_id, f["path"]) for f in fact.files]
    if ids:
        conn.execute(update(t.files).where(t.files.c.id.in_(ids)).values(state="CATALOGED"))
    checksum_rows = []
    location_rows = []
    for id_, f in zip(ids, fact.files, strict=True):
        if f["adler32"]:
            checksum_rows.append({"file_id": id_, "algorithm": "ADLER32", "value": f["adler32"]})
        if f["sha256"]:
            checksum_rows.append({"file_id": id_, "algorithm": "SHA256", "value": f["sha256"]})
        if f["object_key"]:
            location_rows.append(
                {
                    "file_id": id_,
                    "storage_type": "OBJECT_STORAGE",
                    "root": bucket,
                    "path": f["object_key"],
                    "access_time": fact.occurred_at,
                }
            )
    insert_ignoring_duplicates(conn, t.checksums, checksum_rows)
    insert_ignoring_duplicates(conn, t.locations, location_rows)
    failed = [file_id(fact.holding_id, fact.transaction_id, f["path"]) for f in fact.failed]
    if failed:
        # A released reservation leaves no row: the path was never in the holding.
        conn.execute(
            delete(t.files).where(and_(t.files.c.id.in_(failed), t.files.c.state == "RESERVED"))
        )


def _accessed(conn: Connection, fact: FilesRetrieved) -> None:
    """A GET read these files' object-store copies: eviction's least-recently-accessed
    policy goes by ``access_time``. Never moved back by a replayed older fact."""
    loc = t.locations
    ids = [r["file_id"] for r in fact.restored]
    for chunk in chunked(ids):
        conn.execute(
            update(loc)
            .where(
                loc.c.file_id.in_(chunk)
                & (loc.c.storage_type == "OBJECT_STORAGE")
                & (loc.c.access_time < fact.occurred_at)
            )
            .values(access_time=fact.occurred_at)
        )


def _recalled(conn: Connection, fact: FilesRecalled, bucket: str) -> None:
    """Recalled files have their object-store copy again, accessed now (eviction's
    least-recently-accessed policy keeps them a while)."""
    known = _existing(conn, [r["file_id"] for r in fact.recalled])
    insert_ignoring_duplicates(
        conn,
        t.locations,
        [
            {
                "file_id": r["file_id"],
                "storage_type": "OBJECT_STORAGE",
                "root": bucket,
                "path": r["object_key"],
                "access_time": fact.occurred_at,
            }
            for r in fact.recalled
            if r["file_id"] in known
        ],
    )
    loc = t.locations
    for chunk in _chunks(sorted(known)):
        conn.execute(
            update(loc)
            .where(
                loc.c.file_id.in_(chunk)
                & (loc.c.storage_type == "OBJECT_STORAGE")
                & (loc.c.access_time < fact.occurred_at)
            )
            .values(access_time=fact.occurred_at)
        )


def _archived(conn: Connection, fact: FilesArchived) -> None:
    """Tape locations and member offsets of the archived files; no file is in flight any
    more, archived or failed."""
    settled = [m["file_id"] for m in fact.members] + [f["file_id"] for f in fact.failed]
    known = _existing(conn, [m["file_id"] for m in fact.members])
    members = [m for m in fact.members if m["file_id"] in known]
    if members:
        insert_ignoring_duplicates(
            conn,
            t.aggregates,
            [
                {
                    "name": fact.aggregate,
                    "holding_id": fact.holding_id,
                    "size": fact.size,
                    "adler32": fact.adler32,
                    "created_at": fact.occurred_at,
                }
            ],
        )
        insert_ignoring_duplicates(
            conn,
            t.aggregate_members,
            [
                {
                    "file_id": m["file_id"],
                    "aggregate": fact.aggregate,
                    "offset": m["offset"],
                    "size": m["size"],
                }
                for m in members
            ],
        )
        insert_ignoring_duplicates(
            conn,
            t.locations,
            [
                {
                    "file_id": m["file_id"],
                    "storage_type": "TAPE",
                    "root": fact.aggregate,
                    "path": m["path"].lstrip(b"/").decode("utf-8", "backslashreplace"),
                    "access_time": fact.occurred_at,
                }
                for m in members
            ],
        )
    for ids in _chunks(settled):
        conn.execute(delete(t.archive_pending).where(t.archive_pending.c.file_id.in_(ids)))


def _existing(conn: Connection, ids: Sequence[int]) -> set[int]:
    """The ids of files the catalog has (a fact may name files deleted since)."""
    found: set[int] = set()
    for chunk in _chunks(ids):
        rows = conn.execute(select(t.files.c.id).where(t.files.c.id.in_(chunk)))
        found.update(row.id for row in rows)
    return found


def _chunks(ids: Sequence[int], size: int = 5000) -> list[Sequence[int]]:
    """Bounded IN lists: SQLite limits the parameters of one statement."""
    return [ids[start : start + size] for start in range(0, len(ids), size)]
