"""Read-your-writes: a reply that says a change was made is given once the read model
shows it, so that the caller's next query (``stat``, ``list``, ``find``) sees it.

The API records a request and the decider answers with facts on the catalog topic, all of
one user's on one partition, the transaction's outcome (``TransactionFinished`` or
``TransactionRejected``) after every fact of the change. The projection applies a
partition in order, its position with its rows in one database transaction. So the status
row of a transaction, created by its first fact or state, shows that the decider took it;
and its final state shows that the projection has passed the position of every fact of
the change. The wait is bounded (``api.read_your_writes_s``): past it the reply goes out
as it would without the wait, saying what is known.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from domain.states import FINAL
from events.base import Event
from projections import tables as t
from projections.queries import database_errors

FINAL_NAMES = frozenset(state.name for state in FINAL)
FIRST_PAUSE_S = 0.02
LONGEST_PAUSE_S = 0.25


@dataclass(frozen=True)
class Shown:
    """A transaction as the status table shows it."""

    state: str
    warnings: list[str] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.state in FINAL_NAMES


def transaction_shown(conn: Connection, request: Event, bound_s: float) -> Shown | None:
    """The request's transaction once the status table has it; None past the bound."""
    return _wait(conn, request, bound_s, final=False)


def outcome_shown(conn: Connection, request: Event, bound_s: float) -> Shown | None:
    """The request's transaction once its outcome is in the read model; None past the
    bound."""
    return _wait(conn, request, bound_s, final=True)


def _wait(conn: Connection, request: Event, bound_s: float, final: bool) -> Shown | None:
    tx = t.status_transactions
    query = select(tx.c.state, tx.c.warnings).where(
        (tx.c.transaction_id == request.transaction_id) & (tx.c.user == request.user)
    )
    deadline = time.monotonic() + bound_s
    pause = FIRST_PAUSE_S
    while True:
        # Each look is a transaction of its own, whatever the isolation level.
        conn.rollback()
        with database_errors():
            row = conn.execute(query).first()
        if row is not None:
            shown = Shown(row.state, list(row.warnings or []))
            if shown.final or not final:
                return shown
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(pause, left))
        pause = min(pause * 2, LONGEST_PAUSE_S)
