"""The indexer process: ``python -m processors.indexer worker``.

It walks the paths of each IndexRequested as the requesting user (in their own
file-system worker, ``stores.posix``) and reports bounded
sub-batches to the decider. A redelivered request is walked again: the walk is
deterministic and the reports carry deterministic ids, so the decider ignores repeats.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

from events.base import event_id_for
from events.catalog import FileFailure, IndexedFile
from events.reports import FilesIndexed
from events.topics import INDEX, REPORTS
from events.work import IndexRequested
from nearline.settings import get_settings
from processors.app import decoded, make_app, now_ms, send_all
from processors.indexer.batching import SubBatch, batches
from processors.indexer.walk import FileRecord, Rejection, walk
from stores.posix.requesters import RefusedRequester, UnknownUser, requester_for
from stores.posix.session import UserFiles, WorkerFailed

log = logging.getLogger("nearline.indexer")
settings = get_settings()
app = make_app("indexer", settings)
requests = app.topic(INDEX)


def sub_batches(request: IndexRequested) -> Iterator[SubBatch]:
    """The request's tree in sub-batches, walked as the requester in their own worker;
    a user nearline does not act for is one batch of rejections."""
    paths = list(request.paths)
    try:
        who = requester_for(request.user, settings.posix.min_uid)
        files = UserFiles(who, settings.posix.min_uid, settings.posix.worker_timeout_s)
    except UnknownUser:
        yield from _refused(request, f"user {request.user} is not known on the file servers")
        return
    except (RefusedRequester, WorkerFailed) as refused:
        yield from _refused(request, str(refused))
        return
    with files:
        found = walk(files, paths, request.path_list_file)
        yield from batches(_until_failed(found, paths), request.max_files, request.max_bytes)


def _until_failed(
    found: Iterator[FileRecord | Rejection], named: list[bytes]
) -> Iterator[FileRecord | Rejection]:
    """``found``; should the worker fail, the named paths not reached yet are rejected."""
    pending = set(named)
    try:
        for item in found:
            pending.discard(item.path)
            yield item
    except WorkerFailed as failed:
        log.warning("%s", failed)
        yield from (Rejection(path, str(failed)) for path in named if path in pending)


def _refused(request: IndexRequested, reason: str) -> Iterator[SubBatch]:
    named = list(request.paths)
    if request.path_list_file is not None:
        named.append(request.path_list_file)
    rejections = [Rejection(path, reason) for path in named]
    return batches(iter(rejections), request.max_files, request.max_bytes)


def report(request: IndexRequested, batch: SubBatch) -> FilesIndexed:
    return FilesIndexed(
        event_id=event_id_for(request.transaction_id, f"indexed/{batch.index}"),
        transaction_id=request.transaction_id,
        user=request.user,
        group=request.group,
        cause_id=request.event_id,
        occurred_at=now_ms(),
        holding_id=request.holding_id,
        sub_batch=batch.index,
        last=batch.last,
        files=[
            IndexedFile(
                path=r.path,
                path_type=r.path_type,
                link_path=r.link_path,
                size=r.size,
                mode=r.mode,
                uid=r.uid,
                gid=r.gid,
                mtime_ns=r.mtime_ns,
                link_group=r.link_group,
            )
            for r in batch.records
        ],
        rejected=[
            FileFailure(path=r.path, reason=r.reason, retryable=False) for r in batch.rejections
        ],
    )


@app.agent(requests, concurrency=1)
async def index(stream: Any) -> None:
    async for event, _record in decoded(stream, app, (IndexRequested.schema_name,)):
        if not isinstance(event, IndexRequested):
            continue
        pending = await asyncio.to_thread(sub_batches, event)
        while True:
            # The walk blocks on the file system: it runs in a thread, batch by batch
            # (to_thread: the thread's log lines keep the transaction id).
            batch = await asyncio.to_thread(next, pending, None)
            if batch is None:
                break
            log.info(
                "indexed sub-batch %d: %d entries, %d refused%s",
                batch.index,
                len(batch.records),
                len(batch.rejections),
                " (last)" if batch.last else "",
            )
            await send_all(app, [(REPORTS, event.user.encode(), report(event, batch))])


if __name__ == "__main__":
    app.main()
