"""The object deleter and the evict worker: act on the store, then report to the decider
under the user's key."""

from __future__ import annotations

import asyncio

from botocore.exceptions import EndpointConnectionError

from events.base import event_id_for
from events.reports import CacheCopiesRemoved, ObjectsDeleted
from events.topics import REPORTS
from events.work import DeleteObjectsRequested, EvictRequested
from processors.delete_objects.removal import delete_objects
from processors.evict.removal import evict

from .fakes import Sent


class Store:
    def __init__(self, down: int = 0, broken: tuple[str, ...] = ()) -> None:
        self.down, self.broken = down, broken
        self.removed: list[str] = []

    def delete_many(self, keys):
        if self.down:
            self.down -= 1
            raise EndpointConnectionError(endpoint_url="http://s3")
        self.removed += keys
        return []

    def delete(self, key: str) -> None:
        if key in self.broken:
            raise EndpointConnectionError(endpoint_url="http://s3")
        self.removed.append(key)


def test_a_deletion_batch_is_reported_once_its_objects_are_gone():
    request = DeleteObjectsRequested(
        event_id=event_id_for("d1", "delete-objects/0"),
        transaction_id="d1",
        user="alice",
        group="climate",
        cause_id=None,
        occurred_at=1,
        holding_id=3,
        sub_batch=0,
        object_keys=["h3/d1/a"],
    )
    store, sent, waits = Store(down=1), Sent(), []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    asyncio.run(delete_objects(store, request, sent, sleep))
    assert store.removed == ["h3/d1/a"] and waits == [1.0]
    ((topic, key, report),) = sent.items
    assert (topic, key) == (REPORTS, b"alice") and isinstance(report, ObjectsDeleted)


def test_evicted_copies_are_reported_removed_or_failed():
    request = EvictRequested(
        event_id=event_id_for("e1", "evict"),
        transaction_id="e1",
        user="nearline",
        group="nearline",
        cause_id=None,
        occurred_at=1,
        holding_id=3,
        files=[
            {"file_id": 1, "path": b"/d/a", "object_key": "h3/a"},
            {"file_id": 2, "path": b"/d/b", "object_key": "h3/b"},
        ],
    )
    store, sent = Store(broken=("h3/b",)), Sent()
    asyncio.run(evict(store, request, sent))
    (report,) = sent.events(REPORTS)
    assert isinstance(report, CacheCopiesRemoved)
    assert [f["file_id"] for f in report.files] == [1]
    assert [f["file_id"] for f in report.failed] == [2]
