"""The log is the truth: a projection rebuilt from offset zero equals the live one, and
can replace it."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from admin import (
    commands,  # noqa: F401  (registers the admin commands)
    processes,
)
from admin.app import app
from nearline.observe.lag import group_states
from nearline.requests import RequestLog
from projections import replay
from projections import tables as t
from projections.db import make_engine
from projections.definitions import LIVE, projection
from projections.replay import compare, high_watermarks, open_catalog, replay_tables
from projections.runner import stored_positions
from tests.integration.accounts import chown
from tests.integration.catalog_queries import wait_for_transaction


def put_tree(settings, users, engine) -> str:
    alice, climate = users["alice"]
    folder = Path(tempfile.mkdtemp(prefix="nearline-replay-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        (folder / "sub").mkdir()
        (folder / "a.nc").write_bytes(os.urandom(3000))
        (folder / "sub" / "b.nc").write_bytes(os.urandom(5000))
        (folder / "sub" / "bad-\udcff.bin").write_bytes(b"x")
        os.link(folder / "a.nc", folder / "sub" / "a-again.nc")  # a link group (D133)
        for path in (folder, folder / "sub", *folder.rglob("*")):
            chown(os.fsencode(path), alice, climate)
        requests = RequestLog(settings)
        request = requests.put(user=alice, group=climate, paths=[str(folder)], label=folder.name)
        requests.close()
        assert wait_for_transaction(engine, request.transaction_id).state == "COMPLETE"
        return request.transaction_id
    finally:
        shutil.rmtree(folder)


def settled(settings, engine, quiet_s: float = 3.0, timeout: float = 300.0) -> None:
    """Wait until the live projection has applied the whole catalog topic, every running
    processor has done all its work (no lag: an archive or a recall of an earlier test
    adds facts only when it ends), and nothing new arrived for ``quiet_s``."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        ends = high_watermarks(settings, ["nearline.catalog"])
        live = {k: v for k, v in stored_positions(engine, LIVE).items() if k in ends}
        caught_up = all(live.get(tp, 0) >= end for tp, end in ends.items())
        busy = [
            g.group
            for g in group_states(settings)
            if g.processor in processes.KINDS and g.up and g.lag
        ]
        if ends != last or not caught_up or busy:
            last, since = ends, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.3)
    raise TimeoutError("the catalog topic never settled")


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.holdings, t.files, t.checksums, t.locations, t.status_transactions)
        }


def keys(engine) -> dict[str, set[tuple]]:
    """Every row's primary key in the catalog's tables."""
    tables = (t.holdings, t.files, t.checksums, t.locations)
    with engine.connect() as conn:
        return {
            table.name: set(conn.execute(select(*table.primary_key.columns)).tuples())
            for table in tables
        }


def test_replay_rebuilds_the_catalog_of_real_puts_and_swaps_it_in(
    settings, processors, users, catalog_url
):
    engine = make_engine(catalog_url)
    try:
        # Two real PUTs fill the live catalog.
        put_tree(settings, users, engine)
        put_tree(settings, users, engine)
        assert counts(engine)["files"] >= 10
        with engine.connect() as conn:
            linked = (
                select(func.count()).select_from(t.files).where(t.files.c.link_group.is_not(None))
            )
            assert conn.execute(linked).scalar_one() >= 4  # replayed and compared below

        # A replay of everything equals the live projection, table by table.
        runner = CliRunner()
        result = runner.invoke(app, ["replay", "all", "--database", catalog_url])
        assert result.exit_code == 0, (result.output[-3000:], result.exception)
        assert "events/s" in result.output
        assert result.output.strip().endswith("identical"), result.output
        assert "DIFFER" not in result.output
        # Taken once the live projection equals the whole log: a live runner still catching
        # up on earlier tests' facts would move a count taken before.
        settled(settings, engine)
        before, ends_before = keys(engine), high_watermarks(settings, ["nearline.catalog"])

        # The comparison notices a difference: drop one rebuilt file.
        replay_engine = open_catalog(catalog_url)
        copies = replay_tables()
        with replay_engine.begin() as conn:
            victim = conn.execute(select(copies["checksums"].c.file_id).limit(1)).scalar_one()
            conn.execute(delete(copies["checksums"]).where(copies["checksums"].c.file_id == victim))
        assert not all(row.same for row in compare(replay_engine, "catalog"))
        replay_engine.dispose()

        # Swapped in, the rebuilt tables are the live tables: same rows, same positions,
        # and the live runner carries on with them.
        swap = ["replay", "catalog", "--swap", "--database", catalog_url]
        result = runner.invoke(app, swap)
        assert result.exit_code == 0, (result.output[-3000:], result.exception)
        assert "swapped" in result.output
        # Nothing is lost by the swap. Rows it did not have can only come from facts
        # appended since (an earlier test's archive ending while the copy was built;
        # the live runner applies them after the swap): then the log must have grown.
        after = keys(engine)
        for table, rows in before.items():
            assert rows <= after[table], f"{table}: {len(rows - after[table])} rows lost"
        grown = {table for table in after if after[table] - before[table]}
        if grown:
            ends_after = high_watermarks(settings, ["nearline.catalog"])
            assert ends_after != ends_before, f"rows appeared in {grown} with no new fact"
        with engine.connect() as conn:
            live = conn.execute(select(t.positions)).all()
            rebuilt = conn.execute(
                select(copies["projection_positions"]).where(
                    copies["projection_positions"].c.topic == "nearline.catalog"
                )
            ).all()
        # The live runner starts from the rebuilt positions; it may already be past them
        # when facts were appended since (as above), never behind them.
        live_at = {(r.topic, r.partition): r.next_offset for r in live if r.projection == LIVE}
        behind = {
            (r.partition, r.next_offset, live_at.get((r.topic, r.partition)))
            for r in rebuilt
            if live_at.get((r.topic, r.partition), -1) < r.next_offset
        }
        assert rebuilt and not behind, f"live positions behind the rebuilt ones: {behind}"
        if any(live_at[(r.topic, r.partition)] > r.next_offset for r in rebuilt):
            ends_after = high_watermarks(settings, ["nearline.catalog"])
            assert ends_after != ends_before, "the live runner moved on with no new fact"
        put_tree(settings, users, engine)
        assert counts(engine)["files"] > len(after["files"])
    finally:
        engine.dispose()


def test_the_comparison_reads_the_live_side_where_the_replay_caught_up_to_it(
    settings, processors, users, catalog_url, monkeypatch
):
    """The live runner commits a batch while the replay catches up: the comparison still
    reads the live rows of the positions it caught up to (one snapshot), not the rows
    the runner wrote since."""
    engine = make_engine(catalog_url)
    transaction = put_tree(settings, users, engine)
    holdings = t.holdings
    with engine.connect() as conn:
        holding, label = conn.execute(
            select(holdings.c.id, holdings.c.label)
            .join(t.transactions, t.transactions.c.holding_id == holdings.c.id)
            .where(t.transactions.c.transaction_id == transaction)
        ).one()
    real = replay.replay_until

    def while_the_live_runner_moves_on(*args, **kwargs):
        with engine.begin() as conn:
            moved = update(holdings).where(holdings.c.id == holding).values(label=f"{label}-moved")
            conn.execute(moved)
        return real(*args, **kwargs)

    replay_engine = open_catalog(catalog_url)
    monkeypatch.setattr(replay, "replay_until", while_the_live_runner_moves_on)
    try:
        replay.fresh_tables(replay_engine, "catalog")
        rows = replay.compare_with_live(replay_engine, settings, "catalog", lambda _p: None)
        assert all(row.same for row in rows), [row for row in rows if not row.same]

        # The live runner moves on before a swap too: the swap catches the replay up
        # while the runner waits on its lock, and swaps in rows with the newer PUT's.
        later = put_tree(settings, users, engine)
        rebuilt = projection("catalog", settings.s3.bucket)
        with pytest.raises(replay.LiveMovedOn):
            replay.swap(replay_engine, "catalog", rebuilt.topics)
        replay.swap(
            replay_engine,
            "catalog",
            rebuilt.topics,
            lambda targets: real(replay_engine, settings, rebuilt, targets),
        )
        with engine.connect() as conn:
            swapped = select(t.transactions).where(t.transactions.c.transaction_id == later)
            assert conn.execute(swapped).one_or_none() is not None
    finally:
        with engine.begin() as conn:
            conn.execute(update(holdings).where(holdings.c.id == holding).values(label=label))
        replay_engine.dispose()
        engine.dispose()
