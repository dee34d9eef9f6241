"""Transaction status: each transaction and sub-batch with its NLDS state, warnings and
failed files, materialised from the status topic."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select, update

from events.base import Event
from events.status import TransactionStateChanged
from projections import tables as t
from projections.writes import insert_ignoring_duplicates

NAME = "status"
TERMINAL = {"COMPLETE", "FAILED", "COMPLETE_WITH_ERRORS", "COMPLETE_WITH_WARNINGS"}


def apply(conn: Connection, events: Sequence[Event]) -> None:
    """Apply a poll batch of state changes in order, within the caller's transaction."""
    for event in events:
        if isinstance(event, TransactionStateChanged):
            _apply_change(conn, event)


def _apply_change(conn: Connection, change: TransactionStateChanged) -> None:
    tx = t.status_transactions
    insert_ignoring_duplicates(
        conn,
        tx,
        [
            {
                "transaction_id": change.transaction_id,
                "user": change.user,
                "group": change.group,
                "api_action": change.api_action,
                "job_label": change.job_label,
                "label": change.label,
                "holding_id": change.holding_id,
                "state": "ROUTING",
                "warnings": [],
                "creation_time": change.occurred_at,
                "last_updated": change.occurred_at,
            }
        ],
    )
    row = conn.execute(
        select(tx.c.state, tx.c.warnings).where(tx.c.transaction_id == change.transaction_id)
    ).one()
    values: dict = {"last_updated": change.occurred_at}
    if change.label is not None:
        values.update(label=change.label, holding_id=change.holding_id)
    if change.warnings:
        values["warnings"] = list(dict.fromkeys([*row.warnings, *change.warnings]))
    if change.sub_id is None and row.state not in TERMINAL:
        values["state"] = change.state  # a terminal state is final: late repeats lose
    conn.execute(update(tx).where(tx.c.transaction_id == change.transaction_id).values(values))
    if change.sub_id is not None:
        _apply_sub_record(conn, change)


def _apply_sub_record(conn: Connection, change: TransactionStateChanged) -> None:
    sub = t.status_sub_records
    key = (sub.c.transaction_id == change.transaction_id) & (sub.c.sub_id == change.sub_id)
    current = conn.execute(select(sub.c.state).where(key)).scalar_one_or_none()
    if current is None:
        insert_ignoring_duplicates(
            conn,
            sub,
            [
                {
                    "transaction_id": change.transaction_id,
                    "sub_id": change.sub_id,
                    "state": change.state,
                    "retries": change.retries,
                    "last_updated": change.occurred_at,
                }
            ],
        )
    elif current not in TERMINAL:
        conn.execute(
            update(sub)
            .where(key)
            .values(state=change.state, retries=change.retries, last_updated=change.occurred_at)
        )
    insert_ignoring_duplicates(
        conn,
        t.status_failed_files,
        [
            {
                "transaction_id": change.transaction_id,
                "sub_id": change.sub_id,
                "path": f["path"],
                "reason": f["reason"],
            }
            for f in change.failures
        ],
    )
