"""Transaction status: each transaction and sub-batch with its NLDS state, warnings and
failed files.

A transaction shows ROUTING from its request on the requests topic, as soon as the API
has recorded it, whether or not a decider is taking requests just then. Progress
(INDEXING, TRANSFER_PUTTING, ...) comes from the status topic; outcomes come
from the catalog facts that decide them (TransactionRejected, FilesReserved refusals,
FilesCataloged, TransactionFinished). Both topics are applied by one runner in one
database transaction per batch, and an outcome is final: a transaction never shows
COMPLETE before the catalog rows that make it complete are visible.

Every row is keyed by transaction id *and* user: a transaction id belongs to the user who
first used it, and another user's events under the same id change only rows of their
own (D111).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, Table, case, func, select, update

from domain.states import FINAL_NAMES
from events.base import Event
from events.catalog import (
    FileFailure,
    FilesCataloged,
    FilesDeleted,
    FilesReserved,
    FilesRetrieved,
    FilesSelected,
    ObjectsRemoved,
    TransactionAccepted,
    TransactionFinished,
    TransactionRejected,
)
from events.requests import (
    DeleteRequested,
    GetRequested,
    MetaRequested,
    PutRequested,
    StageRequested,
)
from events.status import SubBatchProgress, TransactionStateChanged
from projections import tables as t
from projections.writes import insert_ignoring_duplicates

NAME = "status"
TERMINAL = FINAL_NAMES


def apply(conn: Connection, events: Sequence[Event]) -> None:
    """Apply a poll batch in order, within the caller's transaction."""
    for event in events:
        match event:
            case TransactionStateChanged() if event.state not in TERMINAL:
                _open(conn, event, event.api_action, event.job_label)
                _progress(conn, event)
            case PutRequested() | GetRequested() | DeleteRequested():
                # Recorded by the API: the user sees it queued (ROUTING) even while no
                # decider takes requests (restarting, or behind).
                _open(conn, event, event.api_action, event.job_label)
            case StageRequested():
                _open(conn, event, "stage", event.job_label)
            case MetaRequested():
                _open(conn, event, "meta", event.job_label)
            case TransactionAccepted():
                _open(
                    conn,
                    event,
                    event.api_action,
                    event.job_label,
                    label=event.label,
                    holding_id=event.holding_id,
                )
            case TransactionRejected():
                _open(conn, event, event.api_action, event.job_label)
                _finish(conn, event, "FAILED", warnings=[event.reason])
            case FilesReserved() if event.refused:
                _fail_files(conn, _key(event), event.sub_batch, event.refused)
            case FilesCataloged():
                _settle(conn, event)
            case FilesSelected() if event.unavailable:
                _fail_files(conn, _key(event), event.sub_batch, event.unavailable)
            case FilesRetrieved() if not event.finishing:  # a finishing pass counts nothing
                _fail_files(conn, _key(event), event.sub_batch, event.failed)
                _settle_sub(
                    conn,
                    _key(event),
                    event.sub_batch,
                    bool(event.restored),
                    event.occurred_at,
                )
            case FilesDeleted() if event.refused:
                _fail_files(conn, _key(event), event.sub_batch, event.refused)
            case ObjectsRemoved():
                _settle_deletion(conn, event)
            case TransactionFinished():
                _finish(conn, event, event.state)
                _one_sub_record(conn, event)


Key = tuple[str, str]
"""A transaction's rows: its id and its user."""


def _key(event: Event) -> Key:
    return (event.transaction_id, event.user)


def _is(table: Table, key: Key) -> ColumnElement[bool]:
    """The condition that selects the rows of one user's transaction."""
    return (table.c.transaction_id == key[0]) & (table.c.user == key[1])


def _open(
    conn: Connection,
    event: Event,
    api_action: str,
    job_label: str,
    label: str | None = None,
    holding_id: int | None = None,
) -> None:
    """The transaction's row, created by whichever of its events comes first."""
    tx = t.status_transactions
    insert_ignoring_duplicates(
        conn,
        tx,
        [
            {
                "transaction_id": event.transaction_id,
                "user": event.user,
                "group": event.group,
                "api_action": api_action,
                "job_label": job_label,
                "label": label,
                "holding_id": holding_id,
                "state": "ROUTING",
                "warnings": [],
                "creation_time": event.occurred_at,
                "last_updated": event.occurred_at,
            }
        ],
    )
    # Created by whichever event a reader meets first; the earliest time wins, so a
    # replay reading the catalog and status topics in another interleaving agrees.
    mine = _is(tx, _key(event))
    conn.execute(
        update(tx)
        .where(mine & (tx.c.creation_time > event.occurred_at))
        .values(creation_time=event.occurred_at)
    )
    if label is not None:
        conn.execute(update(tx).where(mine).values(label=label, holding_id=holding_id))


def _progress(conn: Connection, change: TransactionStateChanged) -> None:
    tx = t.status_transactions
    if change.sub_id is None:
        conn.execute(
            update(tx)
            .where(_is(tx, _key(change)) & tx.c.state.not_in(TERMINAL))
            .values(state=change.state, last_updated=change.occurred_at)
        )
        return
    _sub_record(
        conn,
        _key(change),
        change.sub_id,
        change.state,
        change.occurred_at,
        change.retries,
        final=False,
    )
    if change.progress is not None:
        _figures(conn, _key(change), change.sub_id, change.state, change.progress)


FIGURES = ("files_done", "files_total", "bytes_done", "bytes_total")


def _figures(
    conn: Connection, owner: Key, sub_id: int, state: str, progress: SubBatchProgress
) -> None:
    """How far a sub-batch's step got (D132). Figures of another step than those kept
    replace them (a recalled sub-batch goes on to TRANSFER_GETTING from nothing done);
    of the same step, each figure keeps the highest told, so a late or repeated report
    never takes one back. Only status-topic events carry figures, and their order is
    the log's, so a replay reading the topics in any interleaving gives the same rows.
    The transaction's figures are the sums of its sub-records' (``_sum_figures``)."""
    sub = t.status_sub_records
    key = _is(sub, owner) & (sub.c.sub_id == sub_id)
    row = conn.execute(
        select(sub.c.progress_state, *(sub.c[f] for f in FIGURES)).where(key)
    ).first()
    if row is None:
        return
    told = {f: int(progress[f]) for f in FIGURES}  # type: ignore[literal-required]
    if row.progress_state == state:
        told = {f: max(told[f], getattr(row, f) or 0) for f in FIGURES}
    conn.execute(update(sub).where(key).values(progress_state=state, **told))
    _sum_figures(conn, owner)


def _sum_figures(conn: Connection, owner: Key) -> None:
    """The transaction's figures: the sums of its sub-records', a settled sub-record's
    files and bytes all done (every file of it was handled, stored or failed), whatever
    its last report said (a step's reports may be read after its outcome)."""
    sub, tx = t.status_sub_records, t.status_transactions
    settled = sub.c.state.in_(TERMINAL)
    sums = conn.execute(
        select(
            func.sum(case((settled, sub.c.files_total), else_=sub.c.files_done)),
            func.sum(sub.c.files_total),
            func.sum(case((settled, sub.c.bytes_total), else_=sub.c.bytes_done)),
            func.sum(sub.c.bytes_total),
        ).where(_is(sub, owner))
    ).one()
    conn.execute(update(tx).where(_is(tx, owner)).values(dict(zip(FIGURES, sums, strict=True))))


def _sub_record(
    conn: Connection,
    owner: Key,
    sub_id: int,
    state: str,
    when: int,
    retries: int = 0,
    final: bool = True,
) -> None:
    sub = t.status_sub_records
    key = _is(sub, owner) & (sub.c.sub_id == sub_id)
    current_row = conn.execute(select(sub.c.state, sub.c.retries).where(key)).first()
    current = current_row.state if current_row is not None else None
    if current_row is None:
        insert_ignoring_duplicates(
            conn,
            sub,
            [
                {
                    "transaction_id": owner[0],
                    "user": owner[1],
                    "sub_id": sub_id,
                    "state": state,
                    "retries": retries,
                    "last_updated": when,
                }
            ],
        )
    elif final or current not in TERMINAL:
        # Retries only grow: a later state change keeps the count STAT shows.
        kept = max(retries, current_row.retries or 0)
        conn.execute(update(sub).where(key).values(state=state, retries=kept, last_updated=when))
    elif retries > (current_row.retries or 0):
        # A retry read after the outcome (a replay reads the catalog and status topics
        # in its own interleaving) still counts, and changes nothing else.
        conn.execute(update(sub).where(key).values(retries=retries))
    if state in TERMINAL:
        _sum_figures(conn, owner)  # a settled sub-batch counts whole


def _fail_files(conn: Connection, owner: Key, sub_id: int, failures: Sequence[FileFailure]) -> None:
    insert_ignoring_duplicates(
        conn,
        t.status_failed_files,
        [
            {
                "transaction_id": owner[0],
                "user": owner[1],
                "sub_id": sub_id,
                "path": f["path"],
                "reason": f["reason"],
            }
            for f in failures
        ],
    )


def _settle(conn: Connection, fact: FilesCataloged) -> None:
    _fail_files(conn, _key(fact), fact.sub_batch, fact.failed)
    _settle_sub(conn, _key(fact), fact.sub_batch, bool(fact.files), fact.occurred_at)


def _settle_sub(conn: Connection, owner: Key, sub_id: int, any_done: bool, when: int) -> None:
    """The final state of a sub-batch: its failed files so far, and whether any succeeded."""
    failed = _has_failures(conn, owner, sub_id)
    state = "COMPLETE" if not failed else ("COMPLETE_WITH_ERRORS" if any_done else "FAILED")
    _sub_record(conn, owner, sub_id, state, when)


def _settle_deletion(conn: Connection, fact: ObjectsRemoved) -> None:
    failed = _has_failures(conn, _key(fact), fact.sub_batch)
    # A batch whose every path was refused removed no object: it failed.
    state = "COMPLETE" if not failed else ("COMPLETE_WITH_ERRORS" if fact.object_keys else "FAILED")
    _sub_record(conn, _key(fact), fact.sub_batch, state, fact.occurred_at)


def _one_sub_record(conn: Connection, fact: TransactionFinished) -> None:
    """A transaction that had no batches (META) shows its outcome as sub-record 0, where
    the NLDS client looks for it."""
    sub = t.status_sub_records
    if conn.execute(select(sub.c.sub_id).where(_is(sub, _key(fact)))).first():
        return
    _sub_record(conn, _key(fact), 0, fact.state, fact.occurred_at)


def _has_failures(conn: Connection, owner: Key, sub_id: int) -> bool:
    failed = t.status_failed_files
    row = conn.execute(
        select(failed.c.path).where(_is(failed, owner) & (failed.c.sub_id == sub_id))
    ).first()
    return row is not None


def _finish(conn: Connection, event: Event, state: str, warnings: list[str] | None = None) -> None:
    tx = t.status_transactions
    values: dict = {"state": state, "last_updated": event.occurred_at}
    if warnings:
        values["warnings"] = warnings
    conn.execute(update(tx).where(_is(tx, _key(event))).values(values))
