"""Status rows are keyed by transaction id and user (D111): another user's events under a
transaction id already used change nothing of the first user's status, in any order; the
catalog lists the id under its first user, whatever order the facts are read in."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from api.queries.transactions import StatFilter, find_transactions, transaction_users
from domain.access import Scope
from events.base import Event
from events.catalog import (
    FilesCataloged,
    TransactionAccepted,
    TransactionFinished,
    TransactionRejected,
)
from events.status import TransactionStateChanged
from projections import catalog, status
from projections import tables as t
from projections.db import make_engine
from projections.migrate import upgrade
from tests.unit.api.story import BUCKET, T0, entry, envelope, put

TID = "5d9a3c1e-0000-4000-8000-000000000001"


def apply(engine: Engine, facts: list[Event]) -> None:
    with engine.begin() as conn:
        catalog.apply(conn, facts, BUCKET)
        status.apply(conn, facts)


def mallorys(at: int) -> list[Event]:
    """Everything a second user's transaction under the same id could project."""
    env = lambda step: envelope(TID, f"m/{step}", "mallory", "ocean", at)  # noqa: E731
    failure = {"path": b"/d/a", "reason": "mallory was here", "retryable": False}
    return [
        TransactionAccepted(
            **env("accepted"), api_action="put", job_label="m", holding_id=7, label="x"
        ),
        TransactionStateChanged(
            **env("status"),
            api_action="put",
            job_label="m",
            label="x",
            holding_id=7,
            sub_id=0,
            state="TRANSFER_PUTTING",
            failures=[],
            warnings=[],
            retries=5,
        ),
        FilesCataloged(**env("cataloged/0"), holding_id=7, sub_batch=0, files=[], failed=[failure]),
        TransactionFinished(
            **env("finished"),
            api_action="put",
            state="FAILED",
            files_ok=0,
            files_failed=1,
            bytes_ok=0,
        ),
        TransactionRejected(**env("rejected"), api_action="put", job_label="m", reason="no"),
    ]


def shown(engine: Engine, user: str, group: str) -> list:
    with engine.connect() as conn:
        return find_transactions(conn, Scope(user, group), StatFilter(transaction_id=TID))


@pytest.mark.parametrize("mallory_first", [False, True])
def test_another_users_events_under_the_same_id_leave_the_first_users_status(
    tmp_path: Path, mallory_first: bool
):
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine)
    alices = put(TID, "alice", "climate", 1, "run", {}, [entry(b"/d/a", size=5)], T0)
    alone = make_engine(f"sqlite:///{tmp_path / 'alone.db'}")
    upgrade(alone)
    apply(alone, alices)
    expected = shown(alone, "alice", "climate")
    assert expected and expected[0].state.name == "COMPLETE"

    for batch in [mallorys(T0 - 5), alices] if mallory_first else [alices, mallorys(T0 + 5)]:
        apply(engine, batch)

    [alice] = shown(engine, "alice", "climate")
    assert alice == dataclasses.replace(expected[0], id=alice.id)
    [mallory] = shown(engine, "mallory", "ocean")
    assert (mallory.user, mallory.state.name, mallory.holding_id) == ("mallory", "FAILED", 7)
    assert [f.reason for s in mallory.sub_records for f in s.failed_files] == ["mallory was here"]
    with engine.connect() as conn:
        assert transaction_users(conn, TID) == {"alice", "mallory"}


@pytest.mark.parametrize("mallory_applied_first", [False, True])
def test_the_catalog_lists_an_id_under_its_first_user_whatever_the_order_read(
    tmp_path: Path, mallory_applied_first: bool
):
    """A replay meets the users' partitions in another order than the live projection
    did: both keep the earlier user's row."""
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine)
    alices = put(TID, "alice", "climate", 1, "run", {}, [entry(b"/d/a", size=5)], T0)
    later = mallorys(T0 + 5)[:1]  # her TransactionAccepted, into her holding 7
    for batch in [later, alices] if mallory_applied_first else [alices, later]:
        apply(engine, batch)
    with engine.connect() as conn:
        rows = conn.execute(select(t.transactions)).all()
    assert [(r.transaction_id, r.user, r.holding_id) for r in rows] == [(TID, "alice", 1)]
