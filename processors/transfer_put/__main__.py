"""The transfer-put process: ``python -m processors.transfer_put worker``.

Uploads each sub-batch to the object store with concurrency and reports what was stored
(with checksums) and what failed (with reasons) to the decider. Object keys are
deterministic and existing objects are reused, so a redelivered sub-batch stores nothing
twice. A system error (the object store unreachable) sends the sub-batch to the retry
topic (``processors.retry``) with a growing delay, and the partition moves on; after
``settings.retry.max_attempts`` the files are reported failed with the error as reason.
Each retry is recorded on the status topic, so STAT shows the sub-batch's retry count,
and so is how far a sub-batch got, in files and bytes, every few seconds while it runs
and at its end (``processors.progress``).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any, cast

from domain.object_keys import key_prefix
from events.base import event_id_for
from events.catalog import FileFailure
from events.reports import FilesTransferred, StoredObject
from events.status import SubBatchProgress, TransactionStateChanged
from events.topics import REPORTS, STATUS, TRANSFER_PUT
from events.work import TransferPutRequested
from nearline.observe import metrics
from nearline.settings import get_settings
from processors.app import decoded, make_app, now_ms, send_all
from processors.progress import Progress, progress_event, reporting
from processors.retry.schedule import attempt_of, schedule_retry
from stores.outcomes import NO_TALLY, Tally
from stores.posix.requesters import RefusedRequester, UnknownUser, requester_for
from stores.posix.session import UserFiles, WorkerFailed
from stores.s3.object_store import Expected, Failure, ObjectStore, Stored
from stores.s3.source_files import Opener

log = logging.getLogger("nearline.transfer")
settings = get_settings()
app = make_app("transfer-put", settings)
requests = app.topic(TRANSFER_PUT)


def upload(
    store: ObjectStore, request: TransferPutRequested, tally: Tally = NO_TALLY
) -> list[Stored | Failure]:
    """Store the sub-batch's files, read through descriptors that the requester's own
    file-system worker opened (the kernel checks that they may read each); each counts
    in ``tally`` as it goes."""
    try:
        who = requester_for(request.user, settings.posix.min_uid)
        files = UserFiles(who, settings.posix.min_uid, settings.posix.worker_timeout_s)
    except UnknownUser:
        unknown = Failure(f"user {request.user} is not known on the file servers", False)
        return [unknown for _ in request.files]
    except (RefusedRequester, WorkerFailed) as refused:
        return [Failure(str(refused), False) for _ in request.files]
    with files:
        try:
            return _upload(store, request, files.open_for_reading, tally)
        except WorkerFailed as failed:
            return [Failure(str(failed), False) for _ in request.files]


def _upload(
    store: ObjectStore, request: TransferPutRequested, opener: Opener, tally: Tally
) -> list[Stored | Failure]:
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
    return cast(list[Stored | Failure], results)  # every index was in one of the two


def report(request: TransferPutRequested, results: list[Stored | Failure]) -> FilesTransferred:
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
        event_id=event_id_for(request.transaction_id, f"transferred/{request.sub_batch}"),
        transaction_id=request.transaction_id,
        user=request.user,
        group=request.group,
        cause_id=request.event_id,
        occurred_at=now_ms(),
        holding_id=request.holding_id,
        sub_batch=request.sub_batch,
        stored=stored,
        failed=failed,
    )


def retrying(request: TransferPutRequested, attempt: int) -> TransactionStateChanged:
    """The sub-batch is still transferring, after ``attempt`` retries."""
    return TransactionStateChanged(
        event_id=event_id_for(
            request.transaction_id, f"status/{request.sub_batch}/retry/{attempt}"
        ),
        transaction_id=request.transaction_id,
        user=request.user,
        group=request.group,
        cause_id=request.event_id,
        occurred_at=now_ms(),
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
    store: ObjectStore, request: TransferPutRequested, progress: Progress, last_try: bool
) -> list[Stored | Failure]:
    """``upload``, after which every file is done unless the sub-batch will be retried
    (its figures then stay where this attempt got)."""
    results = upload(store, request, progress)
    if last_try or system_error(results) is None:
        for item in request.files:
            progress.done(item["path"], item["size"])
    return results


def system_error(results: list[Stored | Failure]) -> str | None:
    """The first retryable failure's reason: the service, not the request, is at fault."""
    for result in results:
        if isinstance(result, Failure) and result.retryable:
            return result.reason
    return None


@app.agent(requests, concurrency=1)
async def transfer(stream: Any) -> None:
    store = ObjectStore(settings)
    async for event, record in decoded(stream, app, (TransferPutRequested.schema_name,)):
        if not isinstance(event, TransferPutRequested):
            continue
        attempt = attempt_of(record) + 1
        progress = progress_of(event)
        last_try = attempt > settings.retry.max_attempts
        results = await reporting(
            asyncio.to_thread(counted, store, event, progress, last_try),
            progress,
            partial(_tell, event, attempt - 1),
        )
        count(results)
        reason = system_error(results)
        if reason is not None and attempt <= settings.retry.max_attempts:
            delay = settings.retry.delay_s(attempt)
            log.warning(
                "%s/%d: %s; retry %d in %.0fs",
                event.transaction_id,
                event.sub_batch,
                reason,
                attempt,
                delay,
            )
            await schedule_retry(app, record, attempt, delay, reason)
            await send_all(app, [(STATUS, event.transaction_id.encode(), retrying(event, attempt))])
            continue
        await send_all(app, [(REPORTS, event.user.encode(), report(event, results))])


async def _tell(request: TransferPutRequested, retries: int, figures: SubBatchProgress) -> None:
    told = progress_event(
        request,
        request.sub_batch,
        "TRANSFER_PUTTING",
        "put",
        figures,
        retries=retries,
        holding_id=request.holding_id,
    )
    await send_all(app, [(STATUS, request.transaction_id.encode(), told)])


def count(results: list[Stored | Failure]) -> None:
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


if __name__ == "__main__":
    app.main()
