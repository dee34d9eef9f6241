"""What the cart processor reads from the projections: a cart's files (FIND's query, so a
cart holds what ``nearline find`` shows with the same filters; D11), the owner's finished
carts, and the outcome of the stages a cart asked for. The processor reads them through
the port its wiring builds (``processors.carts.wiring``, decision D140)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Connection, func, select

from domain.access import Scope
from events.carts import CartRequested
from projections import tables as t
from projections.queries.files import FoundFile, find_files
from projections.queries.filters import HoldingSelector

FINAL = ("COMPLETE", "COMPLETE_WITH_ERRORS", "FAILED")


def cart_files(conn: Connection, request: CartRequested) -> list[FoundFile]:
    """The regular files FIND shows for the request's filters, at most ``max_files + 1``."""
    # Without groupall a cart reads all of the owner's own holdings, as FIND does.
    scope = Scope(request.user, request.group if request.groupall else None, request.groupall)
    selector = HoldingSelector(request.label, holding_id=request.holding_id, tags=request.tags)
    limit = request.max_files + 1
    found: dict[int, FoundFile] = {}
    wanted: list[bytes | None] = list(request.paths) or [None]
    for path in wanted:
        for f in find_files(conn, scope, selector, path, request.regex, limit, path_type="FILE"):
            found[f.id] = f
    return list(found.values())


def finished_carts(conn: Connection, user: str, but: str) -> list[str]:
    """The ids of the user's finished carts (ready or error) other than ``but``, most
    recently used first."""
    c = t.carts
    recency = func.coalesce(c.c.last_access, c.c.updated_at)
    rows = conn.execute(
        select(c.c.cart_id)
        .where(c.c.user == user, c.c.state.in_(("ready", "error")), c.c.cart_id != but)
        .order_by(recency.desc(), c.c.cart_id)
    ).all()
    return [row.cart_id for row in rows]


class Finished(NamedTuple):
    """A finished transaction's state and its failed files, path to reason."""

    state: str
    failures: dict[bytes, str]


def finished(conn: Connection, transaction_ids: Sequence[str], user: str) -> dict[str, Finished]:
    """The user's transactions among these that have finished, with their failed files
    (status rows are keyed by transaction id and user: D111)."""
    s, f = t.status_transactions, t.status_failed_files
    rows = conn.execute(
        select(s.c.transaction_id, s.c.state).where(
            s.c.transaction_id.in_(list(transaction_ids)), s.c.user == user, s.c.state.in_(FINAL)
        )
    ).all()
    done = {r.transaction_id: Finished(r.state, {}) for r in rows}
    if done:
        mine = f.c.transaction_id.in_(list(done)) & (f.c.user == user)
        for row in conn.execute(select(f).where(mine)):
            done[row.transaction_id].failures[row.path] = row.reason
    return done
