"""Choosing among versions of a path when a GET names no holding."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DataError, OperationalError

from domain.queries import InvalidQuery
from events.requests import GetRequested
from processors.catalog.wiring import catalog_selector
from projections.queries.files import FoundFile, Location
from projections.queries.selection import newest_versions, selected


def found(file_id: int, holding_id: int, path: bytes, ingest_time: int, **extra) -> FoundFile:
    return FoundFile(
        id=file_id,
        holding_id=holding_id,
        label=f"h{holding_id}",
        user="alice",
        group="climate",
        transaction_id=f"t{holding_id}",
        ingest_time=ingest_time,
        path=path,
        path_type="FILE",
        link_path=None,
        size=3,
        mode=0o100644,
        uid=1,
        gid=1,
        mtime_ns=5,
        **extra,
    )


def test_each_path_comes_from_the_holding_ingested_last():
    versions = [
        found(1, 1, b"/a", 100),
        found(2, 2, b"/a", 300),
        found(3, 3, b"/a", 200),
        found(4, 1, b"/b", 100),
    ]
    assert [f.id for f in newest_versions(versions)] == [4, 2]


def test_a_tie_goes_to_the_higher_holding_id():
    assert [f.id for f in newest_versions([found(2, 9, b"/a", 5), found(1, 4, b"/a", 5)])] == [2]


def test_the_object_store_copy_is_what_a_get_fetches():
    copies = [
        Location("TAPE", "aggregate.tar", "member", 1),
        Location("OBJECT_STORAGE", "bucket", "h1/t1/key", 1),
    ]
    entry = selected(
        found(1, 1, b"/a", 5, checksums={"SHA256": "ab", "ADLER32": "01"}, locations=copies)
    )
    assert (entry["object_key"], entry["sha256"], entry["adler32"]) == ("h1/t1/key", "ab", "01")
    assert (entry["file_id"], entry["holding_id"]) == (1, 1)
    assert selected(found(2, 1, b"/t", 5, locations=copies[:1]))["object_key"] is None


class Failing:
    """An engine whose connections fail with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def connect(self):
        raise self.error


def test_a_query_the_database_refuses_rejects_the_get_and_a_lost_database_raises():
    request = GetRequested(
        event_id="e",
        transaction_id="t",
        user="alice",
        group="climate",
        cause_id=None,
        occurred_at=1,
        paths=[b"/a"],
        regex=None,
        label=None,
        holding_id=None,
        tags={},
        target=None,
        overwrite=False,
        job_label="j",
        api_action="get",
        groupall=False,
    )
    refusing = catalog_selector(Failing(DataError("SELECT", {}, Exception("bad data"))))
    with pytest.raises(InvalidQuery, match="could not answer"):
        refusing(request)
    lost = catalog_selector(Failing(OperationalError("SELECT", {}, Exception("gone"))))
    with pytest.raises(OperationalError):
        lost(request)
