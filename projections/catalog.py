"""The holdings catalog: holdings, tags, transactions, files, checksums and locations,
materialised from the facts on the catalog topic.

A poll batch is folded into pending rows first (``CatalogRows``) and written with one
statement per table, so replaying millions of facts costs a few statements per batch,
not per fact. Folding keeps the facts' order: a file reserved and cataloged in the same
batch is inserted as cataloged; one reserved in an earlier batch is updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, select, update

from domain.ids import file_id
from domain.states import OBJECT_STORAGE, TAPE
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
from projections.writes import insert_ignoring_duplicates, upsert

NAME = "catalog"
CHUNK = 5000
KINDS = frozenset(
    fact.schema_name
    for fact in (
        HoldingCreated,
        TransactionAccepted,
        FilesReserved,
        FilesCataloged,
        FilesRetrieved,
        FilesDeleted,
        HoldingDeleted,
        HoldingRelabeled,
        HoldingTagsChanged,
        ArchiveScheduled,
        FilesArchived,
        FilesRecalled,
        FilesEvicted,
    )
)
"""The facts ``apply`` acts on: the runner does not decode the others for it."""


class CatalogRows:
    """Rows a batch of facts adds or changes, written in one go by ``flush``. A fact
    handled with SQL of its own must ``flush`` first, to keep the order."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.holdings: dict[int, dict[str, Any]] = {}
        self.tags: dict[tuple[int, str], dict[str, Any]] = {}
        self.transactions: dict[str, dict[str, Any]] = {}
        self.files: dict[int, dict[str, Any]] = {}
        self.checksums: dict[tuple[int, str], dict[str, Any]] = {}
        self.locations: dict[tuple[int, str], dict[str, Any]] = {}
        self.cataloged: set[int] = set()  # files of earlier batches now cataloged
        self.released: set[int] = set()  # reservations of earlier batches dropped
        # Ids by (holding, transaction, path): a file's reservation and its cataloging
        # are mostly in one batch, and hashing is much of the cost of a row.
        self.ids: dict[tuple[int, str, bytes], int] = {}

    def file_id(self, holding_id: int, transaction_id: str, path: bytes) -> int:
        key = (holding_id, transaction_id, path)
        id_ = self.ids.get(key)
        if id_ is None:
            id_ = self.ids[key] = file_id(holding_id, transaction_id, path)
        return id_

    def flush(self) -> None:
        conn = self.conn
        # Parents before children; first-come rows are kept (a redelivered fact is a no-op).
        insert_ignoring_duplicates(conn, t.holdings, list(self.holdings.values()))
        upsert(conn, t.tags, list(self.tags.values()), keys=("holding_id", "key"))
        transactions = list(self.transactions.values())
        upsert(conn, t.transactions, transactions, ("transaction_id",), where=_earlier)
        insert_ignoring_duplicates(conn, t.files, list(self.files.values()))
        insert_ignoring_duplicates(conn, t.checksums, list(self.checksums.values()))
        insert_ignoring_duplicates(conn, t.locations, list(self.locations.values()))
        for ids in _chunks(sorted(self.cataloged)):
            conn.execute(update(t.files).where(t.files.c.id.in_(ids)).values(state="CATALOGED"))
        for ids in _chunks(sorted(self.released)):
            # A released reservation leaves no row: the path was never in the holding.
            conn.execute(
                delete(t.files).where(and_(t.files.c.id.in_(ids), t.files.c.state == "RESERVED"))
            )
        self.__init__(conn)  # type: ignore[misc]


def _chunks(ids: Sequence[int], size: int = CHUNK) -> list[Sequence[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def apply(conn: Connection, events: Sequence[Event], bucket: str) -> None:
    """Apply a poll batch of facts in order, within the caller's transaction."""
    rows = CatalogRows(conn)
    for event in events:
        match event:
            case HoldingCreated():
                rows.holdings.setdefault(
                    event.holding_id,
                    {
                        "id": event.holding_id,
                        "user": event.user,
                        "group": event.group,
                        "label": event.label,
                        "transaction_id": event.transaction_id,
                        "created_at": event.occurred_at,
                        "deleted": False,
                    },
                )
                for k, v in event.tags.items():
                    rows.tags[(event.holding_id, k)] = {
                        "holding_id": event.holding_id,
                        "key": k,
                        "value": v,
                    }
            case TransactionAccepted() if event.holding_id is not None:
                row = {
                    "transaction_id": event.transaction_id,
                    "holding_id": event.holding_id,
                    "user": event.user,
                    "group": event.group,
                    "api_action": event.api_action,
                    "job_label": event.job_label,
                    "ingest_time": event.occurred_at,
                }
                kept = rows.transactions.get(event.transaction_id)
                if kept is None or _order(row) < _order(kept):
                    rows.transactions[event.transaction_id] = row
            case FilesReserved():
                _reserve(rows, event)
            case FilesCataloged():
                _catalog(rows, event, bucket)
            case FilesRetrieved() if event.restored and not event.finishing:
                rows.flush()  # its locations may be pending rows of this batch
                _accessed(conn, event)
            case FilesDeleted():
                rows.flush()
                _delete_files(conn, event)
            case HoldingDeleted():
                rows.flush()
                # The row stays (the files keep their holding) under a label no user
                # label can be (labels hold no control characters): the label is free.
                conn.execute(
                    update(t.holdings)
                    .where(t.holdings.c.id == event.holding_id)
                    .values(deleted=True, label=deleted_label(event.holding_id))
                )
            case HoldingRelabeled():
                rows.flush()
                conn.execute(
                    update(t.holdings)
                    .where(t.holdings.c.id == event.holding_id)
                    .values(label=event.label)
                )
            case HoldingTagsChanged():
                rows.flush()
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
                rows.flush()
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
                rows.flush()
                _archived(conn, event)
            case FilesRecalled() if event.recalled:
                rows.flush()
                _recalled(conn, event, bucket)
            case FilesEvicted():
                rows.flush()
                for ids in _chunks([f["file_id"] for f in event.files]):
                    conn.execute(
                        delete(t.locations).where(
                            and_(
                                t.locations.c.file_id.in_(ids),
                                t.locations.c.storage_type == OBJECT_STORAGE,
                            )
                        )
                    )
    rows.flush()


def _reserve(rows: CatalogRows, fact: FilesReserved) -> None:
    for f in fact.files:
        id_ = rows.file_id(fact.holding_id, fact.transaction_id, f["path"])
        rows.files.setdefault(
            id_,
            {
                "id": id_,
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
                "link_group": f.get("link_group"),
                "state": "RESERVED",
                "created_at": fact.occurred_at,
            },
        )


def _catalog(rows: CatalogRows, fact: FilesCataloged, bucket: str) -> None:
    for f in fact.files:
        id_ = rows.file_id(fact.holding_id, fact.transaction_id, f["path"])
        pending = rows.files.get(id_)
        if pending is not None:
            pending["state"] = "CATALOGED"
        else:
            rows.cataloged.add(id_)
        for algorithm, value in (("ADLER32", f["adler32"]), ("SHA256", f["sha256"])):
            if value:
                rows.checksums.setdefault(
                    (id_, algorithm), {"file_id": id_, "algorithm": algorithm, "value": value}
                )
        if f["object_key"]:
            rows.locations.setdefault(
                (id_, OBJECT_STORAGE),
                {
                    "file_id": id_,
                    "storage_type": OBJECT_STORAGE,
                    "root": bucket,
                    "path": f["object_key"],
                    "access_time": fact.occurred_at,
                },
            )
    for failure in fact.failed:
        id_ = rows.file_id(fact.holding_id, fact.transaction_id, failure["path"])
        pending = rows.files.get(id_)
        if pending is None:
            rows.released.add(id_)
        elif pending["state"] == "RESERVED":
            del rows.files[id_]


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
                & (loc.c.storage_type == OBJECT_STORAGE)
                & (loc.c.access_time < fact.occurred_at)
            )
            .values(access_time=fact.occurred_at)
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
        delete(loc).where(and_(loc.c.file_id.in_(ids), loc.c.storage_type == OBJECT_STORAGE))
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
                "storage_type": OBJECT_STORAGE,
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
                & (loc.c.storage_type == OBJECT_STORAGE)
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
                    "storage_type": TAPE,
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


def _order(row: dict[str, Any]) -> tuple[int, str]:
    """Which of two rows of one transaction id is kept: the earlier, then the lesser user.
    An id is its first user's (D111); a redelivered fact changes nothing, and a replay,
    which meets the users' partitions in another order, keeps the same row."""
    return (row["ingest_time"], row["user"])


def _earlier(proposed: Any) -> ColumnElement[bool]:
    tx = t.transactions.c
    return (proposed.ingest_time < tx.ingest_time) | (
        (proposed.ingest_time == tx.ingest_time) & (proposed.user < tx.user)
    )
