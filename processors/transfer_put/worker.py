"""What transfer-put does with one sub-batch (``TransferPutRequested``): upload its files
as the requester, then report them, or set the sub-batch aside for a retry while the
object store is at fault (``processors.retry``). Settings, the object store and the ways
to send come as arguments: ``__main__`` wires them, tests give fakes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import cast

from domain.object_keys import key_prefix
from events.base import caused_by
from events.catalog import FileFailure
from events.reports import FilesTransferred, StoredObject
from events.status import SubBatchProgress, TransactionStateChanged
from events.topics import REPORTS, STATUS
from events.work import TransferPutRequested
from nearline.observe import metrics
from nearline.settings import Settings
from processors.app import Send
from processors.progress import Progress, progress_event, reporting
from processors.user_files import NoWorker, worker_for
from stores.outcomes import NO_TALLY, Tally
from stores.posix.session import WorkerFailed
from stores.s3.object_store import Expected, Failure, ObjectStore, Stored
from stores.s3.source_files import Opener

log = logging.getLogger("nearline.transfer")

Results = list[Stored | Failure]
Upload = Callable[[Settings, ObjectStore, TransferPutRequested, Tally], Results]
RetryLater = Callable[[int, float, str], Awaitable[None]]
"""Set the input record aside on the retry topic: attempt, delay, reason."""


def upload(
    settings: Settings, store: ObjectStore, request: TransferPutRequested, tally: Tally = NO_TALLY
) -> Results:
    """Store the sub-batch's files, read through descriptors that the requester's own
    file-system worker opened (the kernel checks that they may read each); each counts
    in ``tally`` as it goes."""
    try:
        files = worker_for(settings, request.user)
    except NoWorker as refused:
        return [Failure(str(refused), False) for _ in request.files]
    with files:
        try:
            return upload_opened(settings, store, request, files.open_for_reading, tally)
        except WorkerFailed as failed:
            return [Failure(str(failed), False) for _ in request.files]


def upload_opened(
    settings: Settings,
    store: ObjectStore,
    request: TransferPutRequested,
    opener: Opener,
    tally: Tally = NO_TALLY,
) -> Results:
    """Store the files ``opener`` opens: those under ``s3.pack_below`` bytes (not
    empty) as slices of packs, the others as objects of their own; in order."""
    expected = [Expected(size=f["size"], mtime_ns=f["mtime_ns"]) for f in request.files]
    packed = [i for i, e in enumerate(expected) if 0 < e.size < settings.s3.pack_below]
    alone = sorted(set(range(len(expected))) - set(packed))
    results: list[Stored | Failure | None] = [None] * len(expected)
    if packed:
        prefix = key_prefix(request.holding_id, request.transaction_id)
        items = [(request.files[i]["path"], expected[i]) for i in packed]
        outcomes = store.upload_packed(items, prefix, settings.s3.pack_bytes, opener, tally)
        for i, outcome in zip(packed, outcomes, strict=True):
            results[i] = outcome
    if alone:
        files = request.files
        outcomes = store.upload_many(
            [(files[i]["path"], files[i]["object_key"], expected[i]) for i in alone],
            opener=opener,
            tally=tally,
        )
        for i, outcome in zip(alone, outcomes, strict=True):
            results[i] = outcome
    return cast(Results, results)  # every index was in one of the two


def report(request: TransferPutRequested, results: Results) -> FilesTransferred:
    stored: list[StoredObject] = []
    failed: list[FileFailure] = []
    for item, result in zip(request.files, results, strict=True):
        if isinstance(result, Stored):
            stored.append(
                StoredObject(
                    path=item["path"],
                    object_key=result.key,
                    size=result.size,
                    adler32=result.adler32,
                    sha256=result.sha256,
                )
            )
        else:
            failed.append(
                FileFailure(path=item["path"], reason=result.reason, retryable=result.retryable)
            )
    return FilesTransferred(
        **caused_by(request, f"transferred/{request.sub_batch}"),
        holding_id=request.holding_id,
        sub_batch=request.sub_batch,
        stored=stored,
        failed=failed,
    )


def retrying(request: TransferPutRequested, attempt: int) -> TransactionStateChanged:
    """The sub-batch is still transferring, after ``attempt`` retries."""
    return TransactionStateChanged(
        **caused_by(request, f"status/{request.sub_batch}/retry/{attempt}"),
        api_action="put",
        job_label="",
        label=None,
        holding_id=request.holding_id,
        sub_id=request.sub_batch,
        state="TRANSFER_PUTTING",
        failures=[],
        warnings=[],
        retries=attempt,
    )


def progress_of(request: TransferPutRequested) -> Progress:
    """The sub-batch's figures, nothing done yet (the decider's TRANSFER_PUTTING has the
    same totals)."""
    return Progress(len(request.files), sum(f["size"] for f in request.files))


def counted(
    upload_: Upload,
    settings: Settings,
    store: ObjectStore,
    request: TransferPutRequested,
    progress: Progress,
    last_try: bool,
) -> Results:
    """``upload_``, after which every file is done unless the sub-batch will be retried
    (its figures then stay where this attempt got)."""
    results = upload_(settings, store, request, progress)
    if last_try or system_error(results) is None:
        for item in request.files:
            progress.done(item["path"], item["size"])
    return results


def system_error(results: Results) -> str | None:
    """The first retryable failure's reason: the service, not the request, is at fault."""
    for result in results:
        if isinstance(result, Failure) and result.retryable:
            return result.reason
    return None


async def transfer(
    settings: Settings,
    store: ObjectStore,
    request: TransferPutRequested,
    attempt: int,
    send: Send,
    retry_later: RetryLater,
    upload_: Upload = upload,
) -> None:
    """Handle one delivery of a sub-batch, its ``attempt``-th (1 for the first): upload
    (in a thread, telling progress), then report to the decider; or, when the store is
    at fault and attempts remain, set it aside for a retry and record that on the
    status topic."""
    progress = progress_of(request)
    last_try = attempt > settings.retry.max_attempts
    results = await reporting(
        asyncio.to_thread(counted, upload_, settings, store, request, progress, last_try),
        progress,
        partial(_tell, send, request, attempt - 1),
    )
    count(results)
    reason = system_error(results)
    if reason is not None and attempt <= settings.retry.max_attempts:
        delay = settings.retry.delay_s(attempt)
        log.warning(
            "%s/%d: %s; retry %d in %.0fs",
            request.transaction_id,
            request.sub_batch,
            reason,
            attempt,
            delay,
        )
        await retry_later(attempt, delay, reason)
        await send([(STATUS, request.transaction_id.encode(), retrying(request, attempt))])
        return
    await send([(REPORTS, request.user.encode(), report(request, results))])


async def _tell(
    send: Send, request: TransferPutRequested, retries: int, figures: SubBatchProgress
) -> None:
    told = progress_event(
        request,
        request.sub_batch,
        "TRANSFER_PUTTING",
        "put",
        figures,
        retries=retries,
        holding_id=request.holding_id,
    )
    await send([(STATUS, request.transaction_id.encode(), told)])


def count(results: Results) -> None:
    stored = [r for r in results if isinstance(r, Stored)]
    log.info(
        "stored %d files (%d bytes, %d already there), %d failed",
        len(stored),
        sum(r.size for r in stored),
        sum(1 for r in stored if r.reused),
        len(results) - len(stored),
    )
    # Objects reused from an earlier attempt moved nothing this time.
    metrics.moved(
        "object_storage",
        "put",
        sum(r.size for r in results if isinstance(r, Stored) and not r.reused),
    )
    failed = sum(1 for r in results if isinstance(r, Failure))
    if failed:
        metrics.FILES_FAILED.labels("transfer-put").inc(failed)
