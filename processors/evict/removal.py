"""The evict worker's effect: cache copies removed, then reported (act, then report).

Deleting an object that is already gone succeeds, so a redelivered request is harmless.
The store and the way to send come as arguments: ``__main__`` wires them.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError

from events.base import caused_by
from events.catalog import EvictedFile
from events.reports import CacheCopiesRemoved, EvictionFailure
from events.topics import REPORTS
from events.work import EvictRequested
from processors.app import Send

DELETE_WORKERS = 8


class Remover(Protocol):
    def delete(self, key: str) -> None: ...


async def evict(store: Remover, request: EvictRequested, send: Send) -> None:
    """Remove the cache copies (in threads), then report them to the decider."""
    loop = asyncio.get_running_loop()
    report = await loop.run_in_executor(None, remove, store, request)
    await send([(REPORTS, request.user.encode(), report)])


def remove(store: Remover, request: EvictRequested) -> CacheCopiesRemoved:
    def delete(item: EvictedFile) -> str | None:
        try:
            store.delete(item["object_key"])
        except (BotoCoreError, ClientError) as error:
            return f"the cache copy could not be removed: {error}"
        return None

    with ThreadPoolExecutor(DELETE_WORKERS, "nearline-evict") as pool:
        outcomes = list(pool.map(delete, request.files))
    removed = [f for f, reason in zip(request.files, outcomes, strict=True) if reason is None]
    failed = [
        EvictionFailure(file_id=f["file_id"], path=f["path"], reason=reason)
        for f, reason in zip(request.files, outcomes, strict=True)
        if reason is not None
    ]
    return CacheCopiesRemoved(
        **caused_by(request, "cache-copies-removed"),
        holding_id=request.holding_id,
        files=removed,
        failed=failed,
    )
