"""The object deleter keeps trying while the store is away, and reports only then."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from botocore.exceptions import EndpointConnectionError

from events.base import event_id_for
from events.work import DeleteObjectsRequested
from processors.delete_objects.removal import remove_until_done, report


class FlakyStore:
    """Unreachable ``down`` times, then refuses ``refusing`` times, then removes."""

    def __init__(self, down: int, refusing: int = 0) -> None:
        self.down, self.refusing = down, refusing
        self.removed: list[str] = []

    def delete_many(self, keys: Sequence[str]) -> list[str]:
        if self.down:
            self.down -= 1
            raise EndpointConnectionError(endpoint_url="http://s3")
        if self.refusing:
            self.refusing -= 1
            return [f"{keys[0]}: InternalError"]
        self.removed += keys
        return []


REQUEST = DeleteObjectsRequested(
    event_id=event_id_for("x1", "delete-objects/0"),
    transaction_id="x1",
    user="alice",
    group="climate",
    cause_id=None,
    occurred_at=1,
    holding_id=3,
    sub_batch=0,
    object_keys=["h3/t1/a", "h3/t1/b"],
)


def test_an_unreachable_store_is_retried_until_the_objects_are_gone():
    store = FlakyStore(down=3, refusing=1)
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    attempts = asyncio.run(remove_until_done(store, REQUEST, sleep))
    assert attempts == 5 and waits == [1.0, 4.0, 15.0, 60.0]
    assert store.removed == ["h3/t1/a", "h3/t1/b"]


def test_the_report_is_deterministic_for_redelivery():
    first, again = report(REQUEST), report(REQUEST)
    assert first.event_id == again.event_id
    assert (first.sub_batch, first.object_keys) == (0, ["h3/t1/a", "h3/t1/b"])
