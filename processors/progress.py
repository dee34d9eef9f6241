"""How far a running sub-batch got, told on the status topic at a bounded rate (D132).

A worker counts what its threads finish in a ``Progress`` (files and bytes handled,
stored or failed, out of the sub-batch's totals; bytes also as they move, for large
files) and runs its blocking work under ``reporting``, which sends the figures at most
every ``interval_s`` while they change, and once more when the work ends, before the
worker's report: the last figures of a step always reach its totals first.

A progress report is a ``TransactionStateChanged`` of the sub-batch in the state its
step shows (TRANSFER_PUTTING, TRANSFER_GETTING, ARCHIVE_GETTING) with ``progress``. Its
id is derived from the sub-batch, the state and the figures, so a redelivered step that
gets as far reports the same ids; the status projection keeps, per step, the highest
figures it was told, so a replay in any interleaving gives the same rows.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from events.base import Event, caused_by
from events.status import SubBatchProgress, TransactionStateChanged

T = TypeVar("T")

INTERVAL_S = 2.0
"""At most one progress report per sub-batch this often (and one at its end)."""


class Progress:
    """Files and bytes of one sub-batch handled so far; safe to update from threads.

    A file counts once, however often it is reported (a retried file, a redelivery), and
    its bytes count as it moves (``moved``) until it is done (``done``), which sets them
    to its size; no figure passes its total.
    """

    def __init__(self, files_total: int, bytes_total: int) -> None:
        self.files_total = files_total
        self.bytes_total = bytes_total
        self._lock = threading.Lock()
        self._done: dict[Hashable, int] = {}
        self._moving: dict[Hashable, int] = {}
        self._bytes = 0

    def moved(self, item: Hashable, size: int) -> None:
        """``size`` more bytes of ``item`` moved (it is not done yet)."""
        with self._lock:
            if item in self._done or size <= 0:
                return
            self._moving[item] = self._moving.get(item, 0) + size
            self._bytes += size

    def done(self, item: Hashable, size: int) -> None:
        """``item`` (``size`` bytes) is handled, stored or failed."""
        with self._lock:
            if item in self._done:
                return
            self._bytes += size - self._moving.pop(item, 0)
            self._done[item] = size

    def figures(self) -> SubBatchProgress:
        with self._lock:
            return SubBatchProgress(
                files_done=min(len(self._done), self.files_total),
                files_total=self.files_total,
                bytes_done=max(0, min(self._bytes, self.bytes_total)),
                bytes_total=self.bytes_total,
            )


def starting(files_total: int, bytes_total: int) -> SubBatchProgress:
    """The figures of a step that has not begun: its totals, nothing done."""
    return SubBatchProgress(
        files_done=0, files_total=files_total, bytes_done=0, bytes_total=bytes_total
    )


def progress_event(
    work: Event,
    sub_batch: int,
    state: str,
    api_action: str,
    figures: SubBatchProgress,
    retries: int = 0,
    holding_id: int | None = None,
) -> TransactionStateChanged:
    """The report of how far ``work`` (a sub-batch's work item) got in ``state``."""
    point = "/".join(
        str(figures[k]) for k in ("files_done", "files_total", "bytes_done", "bytes_total")
    )
    return TransactionStateChanged(
        **caused_by(work, f"status/{sub_batch}/{state}/progress/{point}"),
        api_action=api_action,
        job_label="",
        label=None,
        holding_id=holding_id,
        sub_id=sub_batch,
        state=state,
        failures=[],
        warnings=[],
        retries=retries,
        progress=figures,
    )


async def reporting(
    work: Awaitable[T],
    progress: Progress,
    send: Callable[[SubBatchProgress], Awaitable[None]],
    interval_s: float = INTERVAL_S,
) -> T:
    """Await ``work``, sending ``progress``'s figures every ``interval_s`` while they
    change, and once more when it has ended, unless they were told already. The work's
    own error is raised as it is, with nothing more sent. Work of no files (only
    directories and links) is awaited without reports."""
    if progress.files_total == 0:
        return await work
    task = asyncio.ensure_future(work)
    told = progress.figures()  # nothing done: the decider told these with the step
    try:
        while True:
            finished, _ = await asyncio.wait({task}, timeout=interval_s)
            if finished:
                break
            figures = progress.figures()
            if figures != told:
                await send(figures)
                told = figures
    finally:
        if not task.done():
            task.cancel()
    result = task.result()
    figures = progress.figures()
    if figures != told:
        await send(figures)
    return result
