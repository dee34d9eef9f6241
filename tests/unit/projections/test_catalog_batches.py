"""The catalog projection folds a batch into rows per table: however the facts are cut
into batches, and however often they are redelivered, the tables come out the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from events.base import Event, event_id_for
from events.catalog import FilesCataloged, FilesReserved, HoldingCreated, TransactionAccepted
from projections import catalog
from projections import tables as t
from projections.db import make_engine
from projections.migrate import upgrade

TX = "3f1b0c6e-0000-4000-8000-000000000001"


def envelope(step: str) -> dict:
    return {
        "event_id": event_id_for(TX, step),
        "transaction_id": TX,
        "user": "alice",
        "group": "climate",
        "cause_id": None,
        "occurred_at": 1_700_000_000_000,
    }


def entry(path: bytes) -> dict:
    return {
        "path": path,
        "path_type": "FILE",
        "link_path": None,
        "size": 10,
        "mode": 0o100644,
        "uid": 1,
        "gid": 1,
        "mtime_ns": 5,
    }


def facts() -> list[Event]:
    stored = [
        {**entry(p), "object_key": f"k/{p.decode()}", "adler32": "0000000a", "sha256": "ab"}
        for p in (b"/a", b"/b")
    ]
    return [
        HoldingCreated(**envelope("holding"), holding_id=1, label="run", tags={"k": "v"}),
        TransactionAccepted(
            **envelope("accepted"), api_action="put", job_label="j", holding_id=1, label="run"
        ),
        FilesReserved(
            **envelope("reserved/0"),
            holding_id=1,
            sub_batch=0,
            last=True,
            files=[entry(b"/a"), entry(b"/b"), entry(b"/c")],  # type: ignore[list-item]
            refused=[],
        ),
        FilesCataloged(
            **envelope("cataloged/0"),
            holding_id=1,
            sub_batch=0,
            files=stored,  # type: ignore[arg-type]
            failed=[{"path": b"/c", "reason": "gone", "retryable": False}],
        ),
    ]


@pytest.fixture
def fresh(tmp_path: Path):
    made: list[Engine] = []

    def make(name: str) -> Engine:
        engine = make_engine(f"sqlite:///{tmp_path / name}.db")
        upgrade(engine)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


def contents(engine: Engine) -> dict[str, set]:
    with engine.connect() as conn:
        return {
            table.name: set(conn.execute(select(table)).all())
            for table in (t.holdings, t.tags, t.transactions, t.files, t.checksums, t.locations)
        }


def test_one_batch_many_batches_and_redelivery_give_the_same_tables(fresh):
    together, apart, twice = fresh("together"), fresh("apart"), fresh("twice")
    # All facts in one poll batch.
    with together.begin() as conn:
        catalog.apply(conn, facts(), "bucket")
    # One fact per batch.
    for fact in facts():
        with apart.begin() as conn:
            catalog.apply(conn, [fact], "bucket")
    # Every fact delivered twice, in the same batch and again in a later one.
    with twice.begin() as conn:
        catalog.apply(conn, facts() + facts(), "bucket")
    with twice.begin() as conn:
        catalog.apply(conn, facts(), "bucket")

    expected = contents(together)
    assert contents(apart) == expected
    assert contents(twice) == expected
    files = {row.path: row.state for row in expected["files"]}
    # The failed file's reservation left no row; the others are cataloged with checksums.
    assert files == {b"/a": "CATALOGED", b"/b": "CATALOGED"}
    assert len(expected["checksums"]) == 4 and len(expected["locations"]) == 2
    assert {(row.key, row.value) for row in expected["holding_tags"]} == {("k", "v")}
