"""What the object deleter does with one deletion batch: remove its objects, however long
the object store is away, then report them removed (``delete_objects``). The store and
the way to send come as arguments: ``__main__`` wires them, tests give fakes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from events.base import caused_by
from events.reports import ObjectsDeleted
from events.topics import REPORTS
from events.work import DeleteObjectsRequested
from processors.app import Send

log = logging.getLogger("nearline.deletion")
RETRY_DELAYS = (1.0, 4.0, 15.0, 60.0)  # the last repeats until the store is back


class Deleter(Protocol):
    def delete_many(self, keys: Sequence[str]) -> list[str]: ...


def remove(store: Deleter, keys: Sequence[str]) -> str | None:
    """Remove the objects; None once all are gone, or what stopped it."""
    try:
        refused = store.delete_many(keys)
    except (BotoCoreError, ClientError) as error:
        return str(error)
    return "; ".join(refused[:5]) if refused else None


async def remove_until_done(
    store: Deleter,
    request: DeleteObjectsRequested,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Remove the batch's objects, retrying with growing delays until the store has
    removed them all; the number of attempts it took."""
    loop = asyncio.get_running_loop()
    attempt = 0
    while trouble := await loop.run_in_executor(None, remove, store, request.object_keys):
        delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
        log.warning(
            "cannot remove objects of %s/%d (%s); retrying in %.0fs",
            request.transaction_id,
            request.sub_batch,
            trouble,
            delay,
        )
        attempt += 1
        await sleep(delay)
    return attempt + 1


def report(request: DeleteObjectsRequested) -> ObjectsDeleted:
    """The decider's news that the batch's objects are gone."""
    return ObjectsDeleted(
        **caused_by(request, f"objects-deleted/{request.sub_batch}"),
        holding_id=request.holding_id,
        sub_batch=request.sub_batch,
        object_keys=list(request.object_keys),
    )


async def delete_objects(
    store: Deleter,
    request: DeleteObjectsRequested,
    send: Send,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Remove the batch's objects until done, then tell the decider."""
    await remove_until_done(store, request, sleep)
    await send([(REPORTS, request.user.encode(), report(request))])
