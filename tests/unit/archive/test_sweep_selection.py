"""The archive sweep's selection (against an in-memory SQLite catalog) and its plan."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, insert

from domain.aggregate_names import aggregate_name
from processors.archive_put.sweep import plan
from projections import tables as t
from projections.queries.archiving import unarchived


@pytest.fixture
def conn():
    engine = create_engine("sqlite://")
    t.metadata.create_all(engine)
    with engine.begin() as connection:
        yield connection


def add_holding(conn, holding_id: int, user: str = "alice", deleted: bool = False) -> None:
    conn.execute(
        insert(t.holdings).values(
            id=holding_id,
            user=user,
            group="climate",
            label=f"h{holding_id}",
            transaction_id="t",
            created_at=0,
            deleted=deleted,
        )
    )


def add_file(
    conn,
    file_id: int,
    holding_id: int,
    path: bytes,
    *,
    size: int = 100,
    kind: str = "FILE",
    state: str = "CATALOGED",
    tape: bool = False,
    cached: bool = True,
    pending: bool = False,
) -> None:
    conn.execute(
        insert(t.files).values(
            id=file_id,
            holding_id=holding_id,
            transaction_id="t",
            path=path,
            path_type=kind,
            link_path=None,
            size=size,
            mode=0o100644,
            uid=0,
            gid=0,
            mtime_ns=0,
            state=state,
            created_at=0,
        )
    )
    conn.execute(
        insert(t.checksums),
        [
            {"file_id": file_id, "algorithm": "SHA256", "value": "ab"},
            {"file_id": file_id, "algorithm": "ADLER32", "value": "0a"},
        ],
    )
    if cached:
        conn.execute(
            insert(t.locations).values(
                file_id=file_id,
                storage_type="OBJECT_STORAGE",
                root="b",
                path=f"k{file_id}",
                access_time=0,
            )
        )
    if tape:
        conn.execute(
            insert(t.locations).values(
                file_id=file_id, storage_type="TAPE", root="agg", path="p", access_time=0
            )
        )
    if pending:
        conn.execute(insert(t.archive_pending).values(file_id=file_id, transaction_id="s", since=0))


def test_selects_cached_regular_files_without_tape_copy_or_flight(conn):
    add_holding(conn, 1)
    add_holding(conn, 2, user="bob")
    add_holding(conn, 3, deleted=True)
    add_file(conn, 10, 1, b"/a")
    add_file(conn, 11, 1, b"/b", tape=True)  # archived already
    add_file(conn, 12, 1, b"/c", pending=True)  # in flight
    add_file(conn, 13, 1, b"/d", kind="DIRECTORY")
    add_file(conn, 14, 1, b"/e", state="RESERVED")
    add_file(conn, 15, 1, b"/f", cached=False)  # no cache copy to read
    add_file(conn, 20, 2, b"/a")
    add_file(conn, 30, 3, b"/a")  # holding deleted
    found = unarchived(conn, 100)
    assert [(u.holding_id, u.user, u.member["file_id"]) for u in found] == [
        (1, "alice", 10),
        (2, "bob", 20),
    ]
    assert found[0].member["object_key"] == "k10" and found[0].member["sha256"] == "ab"
    assert [u.member["file_id"] for u in unarchived(conn, 1)] == [10]
    assert [u.member["file_id"] for u in unarchived(conn, 100, [2])] == [20]


def test_plan_groups_each_holding_into_aggregates_of_the_target_size(conn):
    add_holding(conn, 1)
    add_holding(conn, 2, user="bob")
    for i in range(6):
        add_file(conn, 100 + i, 1, b"/f%d" % i, size=1000)
    add_file(conn, 200, 2, b"/g", size=10)
    requests = plan(unarchived(conn, 100), target_bytes=4 * 1536)
    by_holding = [(r.holding_id, r.user, [m["file_id"] for m in r.members]) for r in requests]
    # Each 1000-byte member takes 1536 bytes of tar; the end of archive 1024.
    assert by_holding == [
        (1, "alice", [100, 101, 102]),
        (1, "alice", [103, 104, 105]),
        (2, "bob", [200]),
    ]
    assert len({r.transaction_id for r in requests}) == 3
    # Another sweep of the same files plans the same aggregates, as a new request.
    again = plan(unarchived(conn, 100), target_bytes=4 * 1536)
    assert [[m["file_id"] for m in r.members] for r in again] == [m for _, _, m in by_holding]
    assert {r.transaction_id for r in again}.isdisjoint(r.transaction_id for r in requests)
    assert aggregate_name(1, [100, 101, 102]) == aggregate_name(1, [102, 101, 100])


def test_a_file_no_tar_can_name_stays_out_of_the_plan(conn):
    add_holding(conn, 1)
    add_file(conn, 1, 1, b"/ok")
    add_file(conn, 2, 1, b"/../escape")
    [request] = plan(unarchived(conn, 100), target_bytes=10**6)
    assert [m["file_id"] for m in request.members] == [1]


def test_an_aggregate_holds_at_most_max_files(conn):
    add_holding(conn, 1)
    for i in range(5):
        add_file(conn, 100 + i, 1, b"/f%d" % i, size=10)
    requests = plan(unarchived(conn, 100), target_bytes=10**9, max_files=2)
    assert [[m["file_id"] for m in r.members] for r in requests] == [[100, 101], [102, 103], [104]]
