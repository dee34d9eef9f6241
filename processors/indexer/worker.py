"""What the indexer does with one ``IndexRequested``: walk its paths as the requester (in
their own file-system worker, ``stores.posix``) and report bounded sub-batches to the
decider. Settings and the way to send come as arguments: ``__main__`` wires them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator

from events.base import caused_by
from events.catalog import FileFailure, IndexedFile
from events.reports import FilesIndexed
from events.topics import REPORTS
from events.work import IndexRequested
from nearline.settings import Settings
from processors.app import Send
from processors.indexer.batching import SubBatch, batches
from processors.indexer.walk import FileRecord, Rejection, walk
from processors.user_files import NoWorker, worker_for
from stores.posix.session import WorkerFailed

log = logging.getLogger("nearline.indexer")

Walk = Callable[[Settings, IndexRequested], Iterator[SubBatch]]


def sub_batches(settings: Settings, request: IndexRequested) -> Iterator[SubBatch]:
    """The request's tree in sub-batches, walked as the requester in their own worker;
    a user nearline does not act for is one batch of rejections."""
    paths = list(request.paths)
    try:
        files = worker_for(settings, request.user)
    except NoWorker as refused:
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
        **caused_by(request, f"indexed/{batch.index}"),
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


async def index(
    settings: Settings, request: IndexRequested, send: Send, walk_: Walk = sub_batches
) -> None:
    """Walk the request and send each sub-batch's report as soon as it is complete."""
    pending = await asyncio.to_thread(walk_, settings, request)
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
        await send([(REPORTS, request.user.encode(), report(request, batch))])
