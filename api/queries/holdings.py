"""LIST: the holdings a caller sees, with their tags and transactions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Select, and_, select

from domain.access import Scope
from projections import tables as t
from projections.queries import chunked, database_errors
from projections.queries.filters import HoldingSelector, holding_conditions

HoldingIds = Sequence[int] | Select[tuple[int]]
"""Holdings given by id, or by a query selecting their ids."""


@dataclass(frozen=True)
class Holding:
    id: int
    label: str
    user: str
    group: str
    created_at: int  # epoch milliseconds
    tags: dict[str, str]
    transactions: list[str]  # ids, oldest first


def list_holdings(
    conn: Connection,
    scope: Scope,
    selector: HoldingSelector,
    limit: int | None = None,
    descending: bool = False,
) -> list[Holding]:
    """Holdings in id order (newest first with ``descending``), at most ``limit``."""
    h = t.holdings
    order = h.c.id.desc() if descending else h.c.id
    query = (
        select(h.c.id, h.c.label, h.c.user, h.c.group, h.c.created_at)
        .where(and_(*holding_conditions(scope, selector)))
        .order_by(order)
        .limit(limit)
    )
    with database_errors():
        rows = conn.execute(query).all()
        # Tags and transactions of the same holdings, chosen again by the query itself:
        # a thousand holdings are one subquery, not a thousand bound ids.
        chosen = select(query.subquery().c.id)
        tags = tags_of(conn, chosen)
        transactions = transactions_of(conn, chosen)
    return [
        Holding(
            id=r.id,
            label=r.label,
            user=r.user,
            group=r.group,
            created_at=r.created_at,
            tags=tags.get(r.id, {}),
            transactions=transactions.get(r.id, []),
        )
        for r in rows
    ]


def tags_of(conn: Connection, holding_ids: HoldingIds) -> dict[int, dict[str, str]]:
    """The tags of each holding."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(holding_ids):
        for row in conn.execute(select(t.tags).where(t.tags.c.holding_id.in_(chunk))):
            found[row.holding_id][row.key] = row.value
    return found


def transactions_of(conn: Connection, holding_ids: HoldingIds) -> dict[int, list[str]]:
    """The transactions that put files into each holding, oldest first."""
    tx = t.transactions
    found: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(holding_ids):
        rows = conn.execute(
            select(tx.c.holding_id, tx.c.transaction_id)
            .where(tx.c.holding_id.in_(chunk))
            .order_by(tx.c.ingest_time, tx.c.transaction_id)
        )
        for row in rows:
            found[row.holding_id].append(row.transaction_id)
    return found


def _chunks(holding_ids: HoldingIds) -> list[Sequence[int]] | list[Select[tuple[int]]]:
    if isinstance(holding_ids, Select):
        return [holding_ids]
    return chunked(holding_ids)
