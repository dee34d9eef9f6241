"""The projection of DELETE and META facts (SQLite, through the real projection code):
deleted files and holdings leave LIST, FIND and the use counts, labels are freed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from api.queries.holdings import list_holdings
from domain.access import Scope
from events.base import Event
from events.catalog import (
    FilesDeleted,
    HoldingDeleted,
    HoldingRelabeled,
    HoldingTagsChanged,
    ObjectsRemoved,
    TransactionAccepted,
    TransactionFinished,
)
from projections import catalog, status
from projections import tables as t
from projections.db import make_engine
from projections.migrate import upgrade
from projections.queries.files import find_files
from projections.queries.filters import HoldingSelector
from projections.usage import cache_bytes, tape_bytes
from tests.unit.api.story import BUCKET, T0, entry, envelope, put

ALICE = Scope("alice", "climate")


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine)
    apply(engine, put("p1", "alice", "climate", 1, "run", {"k": "v"}, files(), T0))
    return engine


def files() -> list:
    return [entry(b"/d", "DIRECTORY", 0), entry(b"/d/a", size=100), entry(b"/d/b", size=20)]


def apply(engine: Engine, facts: list[Event]) -> None:
    with engine.begin() as conn:
        catalog.apply(conn, facts, BUCKET)
        status.apply(conn, facts)


def env(step: str, tid: str = "x1") -> dict:
    return envelope(tid, step, "alice", "climate", T0 + 10)


def deleted(paths: list[bytes], refused: list | None = None) -> FilesDeleted:
    return FilesDeleted(
        **env("deleted/0"),
        holding_id=1,
        sub_batch=0,
        last=True,
        files=[{"path": p, "transaction_id": "p1", "size": 100, "object_key": "k"} for p in paths],
        refused=refused or [],
    )


def test_deleted_files_leave_find_and_the_use_but_keep_their_rows(engine: Engine):
    with engine.connect() as conn:
        assert cache_bytes(conn, user="alice") == 120 and tape_bytes(conn, user="alice") == 0
    miss = {"path": b"/nope", "reason": "No such file in your holdings.", "retryable": False}
    accepted = TransactionAccepted(
        **env("accepted"), api_action="del", job_label="x", holding_id=None, label=None
    )
    removed = ObjectsRemoved(**env("removed/0"), holding_id=1, sub_batch=0, object_keys=["k"])
    apply(engine, [accepted, deleted([b"/d/a"], [miss]), removed])
    with engine.connect() as conn:
        found = find_files(conn, ALICE, HoldingSelector())
        assert [f.path for f in found] == [b"/d", b"/d/b"]
        assert cache_bytes(conn, user="alice") == cache_bytes(conn, group="climate") == 20
        row = conn.execute(select(t.files.c.state).where(t.files.c.path == b"/d/a")).one()
        assert row.state == "DELETED"
        locations = conn.execute(select(t.locations.c.path)).scalars().all()
        assert len(locations) == 1  # only /d/b's object is left
        sub = conn.execute(
            select(t.status_sub_records.c.state).where(
                t.status_sub_records.c.transaction_id == "x1"
            )
        ).scalar_one()
        assert sub == "COMPLETE_WITH_ERRORS"
        failed = conn.execute(select(t.status_failed_files.c.reason)).scalar_one()
        assert failed == miss["reason"]


def test_a_deleted_holdings_label_is_free_for_a_new_holding(engine: Engine):
    apply(
        engine,
        [
            deleted([b"/d", b"/d/a", b"/d/b"]),
            HoldingDeleted(**env("gone"), holding_id=1, label="run"),
        ],
    )
    with engine.connect() as conn:
        assert list_holdings(conn, ALICE, HoldingSelector()) == []
        assert cache_bytes(conn, user="alice") == 0
    apply(engine, put("p2", "alice", "climate", 7, "run", {}, [entry(b"/d/a")], T0 + 20))
    with engine.connect() as conn:
        [holding] = list_holdings(conn, ALICE, HoldingSelector("run"))
        assert holding.id == 7
        assert [f.holding_id for f in find_files(conn, ALICE, HoldingSelector(), b"/d/a")] == [7]


def test_relabel_and_tags_replace_what_was(engine: Engine):
    apply(
        engine,
        [
            HoldingRelabeled(**env("relabeled", "m1"), holding_id=1, old_label="run", label="fin"),
            HoldingTagsChanged(**env("tags", "m1"), holding_id=1, tags={"stage": "final"}),
            TransactionAccepted(
                **env("accepted", "m1"),
                api_action="meta",
                job_label="m",
                holding_id=None,
                label=None,
            ),
            TransactionFinished(
                **env("finished", "m1"),
                api_action="meta",
                state="COMPLETE",
                files_ok=0,
                files_failed=0,
                bytes_ok=0,
            ),
        ],
    )
    with engine.connect() as conn:
        [holding] = list_holdings(conn, ALICE, HoldingSelector())
        assert (holding.label, holding.tags) == ("fin", {"stage": "final"})
        subs = conn.execute(
            select(t.status_sub_records.c.state).where(
                t.status_sub_records.c.transaction_id == "m1"
            )
        ).scalars()
        assert list(subs) == ["COMPLETE"]
