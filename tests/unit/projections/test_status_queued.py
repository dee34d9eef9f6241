"""A recorded request shows at once, queued (ROUTING), whether or not a decider takes
requests just then; what the decider decides later moves it on, and reading the request
after the decision (a replay's interleaving of topics) never moves it back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from events.catalog import HoldingCreated, TransactionAccepted, TransactionFinished
from events.requests import PutRequested
from projections import status
from projections import tables as t
from projections.db import make_engine
from projections.definitions import projection
from projections.migrate import upgrade
from tests.unit.api.story import T0, envelope

TID = "5d9a3c1e-0000-4000-8000-0000000000aa"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine)
    return engine


def requested() -> PutRequested:
    return PutRequested(
        **envelope(TID, "request", "alice", "climate", T0),
        label="run",
        holding_id=None,
        tags={},
        paths=[b"/data/run"],
        path_list_file=None,
        job_label="nightly",
        api_action="put",
    )


def decided() -> list:
    env = lambda step, dt: envelope(TID, step, "alice", "climate", T0 + dt)  # noqa: E731
    return [
        TransactionAccepted(
            **env("accepted", 5), api_action="put", job_label="nightly", holding_id=3, label="run"
        ),
        TransactionFinished(
            **env("finished", 9),
            api_action="put",
            state="COMPLETE",
            files_ok=1,
            files_failed=0,
            bytes_ok=10,
        ),
    ]


def states(engine: Engine) -> list[tuple[str, str, str, int]]:
    tx = t.status_transactions
    with engine.connect() as conn:
        rows = conn.execute(select(tx.c.user, tx.c.api_action, tx.c.state, tx.c.creation_time))
        return [tuple(row) for row in rows]


def test_a_request_alone_shows_queued(engine):
    with engine.begin() as conn:
        status.apply(conn, [requested()])
    assert states(engine) == [("alice", "put", "ROUTING", T0)]


@pytest.mark.parametrize("request_first", [True, False])
def test_the_decision_moves_it_on_in_either_order(engine, request_first):
    events = [requested(), *decided()] if request_first else [*decided(), requested()]
    with engine.begin() as conn:
        status.apply(conn, events)
    assert states(engine) == [("alice", "put", "COMPLETE", T0)]


def test_the_status_projection_reads_the_requests_topic():
    assert "nearline.requests" in projection("status", "b").topics
    assert "nearline.requests" in projection("all", "b").topics


def test_an_event_counts_only_on_its_own_topic(engine):
    """The live runner reads the requests topic for the status; a catalog fact written
    there (by a forger, or by mistake) must not become a holding."""
    created = HoldingCreated(
        **envelope(TID, "holding", "alice", "climate", T0), holding_id=7, label="x", tags={}
    )
    live = projection("all", "b")
    with engine.begin() as conn:
        live.apply(conn, [("nearline.requests", created)])
    with engine.connect() as conn:
        assert conn.execute(select(t.holdings.c.id)).all() == []
    with engine.begin() as conn:
        live.apply(conn, [("nearline.catalog", created)])
    with engine.connect() as conn:
        assert conn.execute(select(t.holdings.c.id)).scalars().all() == [7]
