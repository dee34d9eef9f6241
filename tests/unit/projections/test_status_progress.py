"""Files and bytes done out of totals in the status projection (D132): per sub-record,
the highest figures told of its current step; per transaction, their sums; the same rows
whatever order a replay reads the catalog and status topics in; migration 0008."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select

from api.queries.transactions import Figures, StatFilter, find_transactions
from domain.access import Scope
from events.base import Event
from events.catalog import FilesCataloged, TransactionAccepted, TransactionFinished
from events.status import SubBatchProgress, TransactionStateChanged
from projections import catalog, status
from projections import tables as t
from projections.db import make_engine
from projections.migrate import alembic_config, upgrade
from tests.unit.api.story import BUCKET, T0, envelope

TID = "5d9a3c1e-0000-4000-8000-00000000d132"
FIGURES = ("files_done", "files_total", "bytes_done", "bytes_total")


@pytest.fixture
def engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def apply(engine: Engine, events: list[Event]) -> None:
    with engine.begin() as conn:
        catalog.apply(conn, events, BUCKET)
        status.apply(conn, events)


def figures(files_done: int, files_total: int, bytes_done: int, bytes_total: int):
    return SubBatchProgress(
        files_done=files_done,
        files_total=files_total,
        bytes_done=bytes_done,
        bytes_total=bytes_total,
    )


def told(
    sub: int, state: str, progress: SubBatchProgress | None, at: int, step: str = ""
) -> TransactionStateChanged:
    point = "/".join(str(v) for v in progress.values()) if progress else "-"
    return TransactionStateChanged(
        **envelope(TID, f"status/{sub}/{state}/{step or point}", "alice", "climate", at),
        api_action="put",
        job_label="j",
        label=None,
        holding_id=7,
        sub_id=sub,
        state=state,
        failures=[],
        warnings=[],
        retries=0,
        progress=progress,
    )


def accepted() -> TransactionAccepted:
    return TransactionAccepted(
        **envelope(TID, "accepted", "alice", "climate", T0),
        api_action="put",
        job_label="j",
        holding_id=7,
        label="run",
    )


def outcome() -> list[Event]:
    env = lambda step, dt: envelope(TID, step, "alice", "climate", T0 + dt)  # noqa: E731
    return [
        FilesCataloged(**env("cataloged/0", 50), holding_id=7, sub_batch=0, files=[], failed=[]),
        FilesCataloged(**env("cataloged/1", 51), holding_id=7, sub_batch=1, files=[], failed=[]),
        TransactionFinished(
            **env("finished", 52),
            api_action="put",
            state="COMPLETE",
            files_ok=5,
            files_failed=0,
            bytes_ok=500,
        ),
    ]


def put_progress() -> list[Event]:
    """Two sub-batches: the decider's totals, then their workers' reports."""
    return [
        told(0, "TRANSFER_PUTTING", figures(0, 3, 0, 300), T0 + 1, "start"),
        told(1, "TRANSFER_PUTTING", figures(0, 2, 0, 200), T0 + 2, "start"),
        told(0, "TRANSFER_PUTTING", figures(1, 3, 150, 300), T0 + 10),
        told(1, "TRANSFER_PUTTING", figures(2, 2, 200, 200), T0 + 11),
        told(0, "TRANSFER_PUTTING", figures(3, 3, 300, 300), T0 + 12),
    ]


def shown(engine: Engine):
    with engine.connect() as conn:
        [tx] = find_transactions(conn, Scope("alice", "climate"), StatFilter(transaction_id=TID))
    return tx


def test_figures_rise_to_the_totals_and_the_transaction_sums_its_sub_batches(engine):
    apply(engine, [accepted(), *put_progress()[:3]])
    tx = shown(engine)
    assert tx.progress == Figures(1, 5, 150, 500)
    assert [s.progress for s in tx.sub_records] == [Figures(1, 3, 150, 300), Figures(0, 2, 0, 200)]
    assert [s.progress_state.name for s in tx.sub_records] == ["TRANSFER_PUTTING"] * 2

    apply(engine, put_progress()[3:])
    assert shown(engine).progress == Figures(5, 5, 500, 500)
    # A late or repeated report of the same step takes nothing back.
    apply(engine, [told(0, "TRANSFER_PUTTING", figures(1, 3, 150, 300), T0 + 20, "late")])
    assert shown(engine).progress == Figures(5, 5, 500, 500)
    # The outcome keeps the figures; the state is the outcome's.
    apply(engine, outcome())
    tx = shown(engine)
    assert tx.state.name == "COMPLETE" and tx.progress == Figures(5, 5, 500, 500)
    assert [s.state.name for s in tx.sub_records] == ["COMPLETE", "COMPLETE"]


def test_a_recalled_sub_batch_counts_its_transfer_from_nothing(engine):
    apply(
        engine,
        [
            accepted(),
            told(0, "ARCHIVE_GETTING", figures(0, 2, 0, 20), T0 + 1, "start"),
            told(0, "ARCHIVE_GETTING", figures(2, 2, 20, 20), T0 + 2),
        ],
    )
    [sub] = shown(engine).sub_records
    assert (sub.progress_state.name, sub.progress) == ("ARCHIVE_GETTING", Figures(2, 2, 20, 20))
    apply(engine, [told(0, "TRANSFER_GETTING", figures(0, 2, 0, 20), T0 + 3, "start")])
    [sub] = shown(engine).sub_records
    assert (sub.progress_state.name, sub.progress) == ("TRANSFER_GETTING", Figures(0, 2, 0, 20))
    assert shown(engine).progress == Figures(0, 2, 0, 20)
    apply(engine, [told(0, "TRANSFER_GETTING", figures(1, 2, 12, 20), T0 + 4)])
    assert shown(engine).progress == Figures(1, 2, 12, 20)


def test_a_sub_batch_settled_before_its_reports_are_read_counts_whole(engine):
    # The catalog topic read ahead of the status topic (the runner reads both): the
    # outcome first, then the step's totals; a settled sub-batch handled every file.
    apply(engine, [accepted(), *outcome()[:1]])
    apply(engine, [told(0, "TRANSFER_PUTTING", figures(0, 3, 0, 300), T0 + 1, "start")])
    tx = shown(engine)
    assert tx.sub_records[0].state.name == "COMPLETE"
    assert tx.sub_records[0].progress == Figures(3, 3, 300, 300)
    assert tx.progress == Figures(3, 3, 300, 300)
    # ... while one still at work counts what it told
    apply(engine, [told(1, "TRANSFER_PUTTING", figures(1, 2, 100, 200), T0 + 2)])
    assert shown(engine).progress == Figures(4, 5, 400, 500)


def test_state_changes_without_figures_leave_none(engine):
    apply(engine, [accepted(), told(0, "TRANSFER_PUTTING", None, T0 + 1), *outcome()[:1]])
    tx = shown(engine)
    assert tx.progress is None and tx.sub_records[0].progress is None


def rows(engine: Engine) -> tuple[list, list]:
    with engine.connect() as conn:
        subs = conn.execute(
            select(t.status_sub_records).order_by(t.status_sub_records.c.sub_id)
        ).all()
        txs = conn.execute(select(t.status_transactions.c[*FIGURES, "state"])).all()
    return [tuple(r) for r in subs], [tuple(r) for r in txs]


def test_a_replay_reading_the_topics_in_another_interleaving_gives_the_same_rows(tmp_path):
    live = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    replayed = make_engine(f"sqlite:///{tmp_path / 'replayed.db'}")
    for engine in (live, replayed):
        upgrade(engine)
    progress = put_progress()
    # Live: progress, then the outcome, then a late report. Replayed: the catalog topic
    # first (outcome included), then the whole status topic in its own order.
    apply(live, [accepted(), *progress, *outcome()])
    apply(live, [told(0, "TRANSFER_PUTTING", figures(2, 3, 200, 300), T0 + 60, "late")])
    apply(replayed, [accepted(), *outcome()])
    apply(
        replayed,
        [*progress, told(0, "TRANSFER_PUTTING", figures(2, 3, 200, 300), T0 + 60, "late")],
    )
    assert rows(live) == rows(replayed)
    assert rows(live)[1] == [(5, 5, 500, 500, "COMPLETE")]
    live.dispose()
    replayed.dispose()


def test_migration_0008_adds_the_figures_and_takes_them_away(engine):
    found = inspect(engine)
    for name in ("status_sub_records", "status_transactions"):
        declared = {c.name for c in t.metadata.tables[name].columns}
        assert {c["name"] for c in found.get_columns(name)} == declared
    assert {"progress_state", *FIGURES} <= declared_of("status_sub_records")
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    found = inspect(engine)
    assert not {"progress_state", *FIGURES} & {
        c["name"] for c in found.get_columns("status_sub_records")
    }
    assert not set(FIGURES) & {c["name"] for c in found.get_columns("status_transactions")}
    # The transactions' key survives the rebuild: one row per id and user.
    assert any(
        set(u["column_names"]) == {"transaction_id", "user"}
        for u in found.get_unique_constraints("status_transactions")
    )
    upgrade(engine)
    assert set(FIGURES) <= {c["name"] for c in inspect(engine).get_columns("status_transactions")}


def declared_of(name: str) -> set[str]:
    return {c.name for c in t.metadata.tables[name].columns}
