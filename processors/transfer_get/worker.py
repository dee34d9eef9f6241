"""What transfer-get does with one sub-batch (``TransferGetRequested``): restore it as the
requester (``restoring``) until no failure is worth retrying, telling progress on the
way, then report to the decider. Settings, the object store and the way to send come as
arguments: ``__main__`` wires them, tests give fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

from events.base import caused_by
from events.reports import FilesRestored
from events.status import SubBatchProgress
from events.topics import REPORTS, STATUS
from events.work import TransferGetFromTapeRequested, TransferGetRequested
from nearline.settings import Settings
from processors.app import Send
from processors.progress import Progress, progress_event, reporting
from processors.transfer_get.restore import Filler
from processors.transfer_get.restoring import (
    Outcome,
    all_failed,
    finish_batch,
    restore_batch,
    until_settled,
)
from processors.user_files import NoWorker, worker_for
from stores.outcomes import NO_TALLY, Tally

GetWork = TransferGetRequested | TransferGetFromTapeRequested
"""A sub-batch to restore: from the cache, or straight from its staged aggregate (D231)."""

Restore = Callable[[Settings, Filler, GetWork, set[bytes] | None, Tally], Outcome]


def restore(
    settings: Settings,
    store: Filler,
    request: GetWork,
    paths: set[bytes] | None,
    tally: Tally = NO_TALLY,
) -> Outcome:
    """Restore the request's entries (only ``paths`` when given) in the requester's own
    file-system worker, counting each regular file in ``tally``."""
    files = [f for f in request.files if paths is None or f["path"] in paths]
    try:
        session = worker_for(settings, request.user)
    except NoWorker as refused:
        return all_failed(files, str(refused))
    with session:
        if finishing(request):
            return finish_batch(session, files, request.target)
        return restore_batch(
            store,
            session,
            files,
            request.target,
            request.overwrite,
            tally=tally,
            durability=settings.restore.durability,
        )


def finishing(request: GetWork) -> bool:
    """Whether this is a finishing pass (D34): directories only, nothing fetched."""
    return isinstance(request, TransferGetRequested) and request.finishing


def report(request: GetWork, outcome: Outcome) -> FilesRestored:
    return FilesRestored(
        **caused_by(request, f"restored/{request.sub_batch}"),
        sub_batch=request.sub_batch,
        restored=list(outcome.restored),
        failed=list(outcome.failed),
        created=list(outcome.created),
    )


def progress_of(request: GetWork) -> Progress:
    """The sub-batch's figures, nothing done yet: its regular files (the decider's
    TRANSFER_GETTING has the same totals)."""
    files = [f for f in request.files if f["path_type"] == "FILE"]
    return Progress(len(files), sum(f["size"] for f in files))


async def transfer_get(
    settings: Settings,
    store: Filler,
    request: GetWork,
    send: Send,
    restore_: Restore = restore,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Restore the sub-batch (in threads) until settled, then report it. A finishing
    pass has directories only: nothing to count."""
    name = f"{request.transaction_id}/{request.sub_batch}"

    async def attempt(tally: Tally, paths: set[bytes] | None) -> Outcome:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, restore_, settings, store, request, paths, tally)

    if finishing(request):
        outcome = await until_settled(partial(attempt, NO_TALLY), sleep, name)
    else:
        progress = progress_of(request)
        outcome = await reporting(
            _settled(partial(attempt, progress), sleep, name, request, progress),
            progress,
            partial(_tell, send, request),
        )
    await send([(REPORTS, request.user.encode(), report(request, outcome))])


async def _settled(
    attempt: Callable[[set[bytes] | None], Awaitable[Outcome]],
    sleep: Callable[[float], Awaitable[None]],
    name: str,
    request: GetWork,
    progress: Progress,
) -> Outcome:
    """The sub-batch restored until no failure is worth retrying; then every file is
    done."""
    outcome = await until_settled(attempt, sleep, name)
    for item in request.files:
        if item["path_type"] == "FILE":
            progress.done(item["path"], item["size"])
    return outcome


async def _tell(send: Send, request: GetWork, figures: SubBatchProgress) -> None:
    told = progress_event(request, request.sub_batch, "TRANSFER_GETTING", "get", figures)
    await send([(STATUS, request.transaction_id.encode(), told)])
