"""STAT: the transactions a caller sees, with their sub-records and failed files."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, and_, exists, or_, select

from domain.access import Scope
from domain.states import State, state_of
from projections import tables as t
from projections.queries import chunked, database_errors
from projections.queries.access import visible
from projections.queries.filters import checked_regex, checked_text

SETTLED = frozenset({"COMPLETE", "FAILED", "COMPLETE_WITH_ERRORS", "COMPLETE_WITH_WARNINGS"})


@dataclass(frozen=True)
class StatFilter:
    """Which transactions to show; every given filter must hold."""

    id: int | None = None
    transaction_id: str | None = None
    job_label: str | None = None
    job_label_regex: bool = False
    api_actions: Sequence[str] = ()
    exclude_api_actions: Sequence[str] = ()
    states: Sequence[State] = ()  # the transaction or one of its sub-records is in one
    sub_id: int | None = None  # only transactions with this sub-record, and only it


@dataclass(frozen=True)
class FailedFile:
    path: bytes
    reason: str


@dataclass(frozen=True)
class Figures:
    """Files and bytes done out of totals (D132)."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


@dataclass(frozen=True)
class SubRecord:
    sub_id: int
    state: State
    retries: int
    last_updated: int  # epoch milliseconds
    failed_files: list[FailedFile] = field(default_factory=list)
    progress: Figures | None = None  # of the step its progress_state names
    progress_state: State | None = None


@dataclass(frozen=True)
class TransactionStatus:
    id: int
    transaction_id: str
    user: str
    group: str
    api_action: str
    job_label: str
    label: str | None
    holding_id: int | None
    state: State
    warnings: list[str]
    creation_time: int  # epoch milliseconds
    last_updated: int
    sub_records: list[SubRecord] = field(default_factory=list)
    progress: Figures | None = None  # the sums of its sub-records' figures


def find_transactions(
    conn: Connection,
    scope: Scope,
    wanted: StatFilter,
    limit: int | None = None,
    descending: bool = False,
) -> list[TransactionStatus]:
    """Transactions in the order they began (newest first with ``descending``)."""
    tx = t.status_transactions
    order = tx.c.id.desc() if descending else tx.c.id
    query = select(tx).where(and_(*_conditions(scope, wanted))).order_by(order).limit(limit)
    with database_errors():
        rows = conn.execute(query).all()
    subs = _sub_records(conn, [(r.transaction_id, r.user) for r in rows], wanted.sub_id)
    return [
        TransactionStatus(
            id=r.id,
            transaction_id=r.transaction_id,
            user=r.user,
            group=r.group,
            api_action=r.api_action,
            job_label=r.job_label,
            label=r.label,
            holding_id=r.holding_id,
            state=state_of(r.state),
            warnings=list(r.warnings or []),
            creation_time=r.creation_time,
            last_updated=r.last_updated,
            sub_records=subs.get((r.transaction_id, r.user), []),
            progress=_figures(r),
        )
        for r in rows
    ]


def _figures(row: Row[Any], settled: bool = False) -> Figures | None:
    """A row's files and bytes done out of totals, or None if it has none; a settled
    sub-record's are all done (every file of it was handled, stored or failed)."""
    if row.files_total is None or row.bytes_total is None:
        return None
    return Figures(
        files_done=row.files_total if settled else row.files_done or 0,
        files_total=row.files_total,
        bytes_done=row.bytes_total if settled else row.bytes_done or 0,
        bytes_total=row.bytes_total,
    )


def _conditions(scope: Scope, wanted: StatFilter) -> list[ColumnElement[bool]]:
    tx, sub = t.status_transactions, t.status_sub_records
    checked_text(wanted.transaction_id, "transaction id")
    checked_text(wanted.job_label, "job label")
    for action in (*wanted.api_actions, *wanted.exclude_api_actions):
        checked_text(action, "API action")
    conditions = [visible(scope, tx)]
    if wanted.id is not None:
        conditions.append(tx.c.id == wanted.id)
    if wanted.transaction_id is not None:
        conditions.append(tx.c.transaction_id == wanted.transaction_id)
    if wanted.job_label is not None:
        if wanted.job_label_regex:
            conditions.append(tx.c.job_label.regexp_match(checked_regex(wanted.job_label)))
        else:
            conditions.append(tx.c.job_label == wanted.job_label)
    if wanted.api_actions:
        conditions.append(tx.c.api_action.in_(list(wanted.api_actions)))
    if wanted.exclude_api_actions:
        conditions.append(tx.c.api_action.not_in(list(wanted.exclude_api_actions)))
    if wanted.states:
        names = [s.name for s in wanted.states]
        conditions.append(
            or_(
                tx.c.state.in_(names),
                exists().where(_same(sub, tx) & sub.c.state.in_(names)),
            )
        )
    if wanted.sub_id is not None:
        conditions.append(exists().where(_same(sub, tx) & (sub.c.sub_id == wanted.sub_id)))
    return conditions


def _same(rows: Table, tx: Table) -> ColumnElement[bool]:
    """Rows of the transaction ``tx`` shows: its id and its user (D111)."""
    return (rows.c.transaction_id == tx.c.transaction_id) & (rows.c.user == tx.c.user)


Owner = tuple[str, str]
"""A transaction's id and user: the key of its status rows."""


def _sub_records(
    conn: Connection, owners: list[Owner], only: int | None
) -> dict[Owner, list[SubRecord]]:
    sub, failed = t.status_sub_records, t.status_failed_files
    failures: dict[tuple[str, str, int], list[FailedFile]] = defaultdict(list)
    records: dict[Owner, list[SubRecord]] = defaultdict(list)
    wanted = set(owners)
    for chunk in chunked(sorted({tid for tid, _user in owners})):
        ff = conn.execute(
            select(failed).where(failed.c.transaction_id.in_(chunk)).order_by(failed.c.path)
        )
        for row in ff:
            failures[(row.transaction_id, row.user, row.sub_id)].append(
                FailedFile(row.path, row.reason)
            )
        query = select(sub).where(sub.c.transaction_id.in_(chunk)).order_by(sub.c.sub_id)
        if only is not None:
            query = query.where(sub.c.sub_id == only)
        for row in conn.execute(query):
            if (row.transaction_id, row.user) not in wanted:
                continue  # another user's rows under the same id
            records[(row.transaction_id, row.user)].append(
                SubRecord(
                    sub_id=row.sub_id,
                    state=state_of(row.state),
                    retries=row.retries,
                    last_updated=row.last_updated,
                    failed_files=failures.get((row.transaction_id, row.user, row.sub_id), []),
                    progress=_figures(row, settled=row.state in SETTLED),
                    progress_state=state_of(row.progress_state) if row.progress_state else None,
                )
            )
    return records


def transaction_users(conn: Connection, transaction_id: str) -> set[str]:
    """Whose transactions carry this id, as the status projection knows them (a request
    recorded moments ago may not show yet)."""
    tx = t.status_transactions
    with database_errors():
        rows = conn.execute(select(tx.c.user).where(tx.c.transaction_id == transaction_id))
        return {row.user for row in rows}
