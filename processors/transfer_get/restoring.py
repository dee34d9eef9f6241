"""Restoring one sub-batch of a GET with ``transfer_get.restore``, through the requester's
own file-system worker: directories, files (downloaded concurrently, each verified),
links, and directory metadata last; every entry ends restored or failed with a reason.
The directories it made (rather than found) are reported, for the GET's finishing pass
(``finish_batch``, decision D34).

A redelivered sub-batch finds the files it restored already in place: a regular file
(or link) at the destination that is what the catalog describes (size and mtime, or the
link's target) counts as restored, instead of being refused as existing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from events.catalog import FileFailure, RestoredFile, SelectedFile
from processors.transfer_get.finishing import finish_made_directories
from processors.transfer_get.placement import UnsafePath
from processors.transfer_get.restore import (
    DEFAULT_CONCURRENCY,
    Filler,
    Refusal,
    Restored,
    plan,
    restore,
)
from stores.durability import Durability
from stores.failures import UNREACHABLE
from stores.outcomes import NO_TALLY, Tally
from stores.posix.session import UserFiles, WorkerFailed

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 4.0, 15.0)  # then every MAX_DELAY while the store is unreachable
MAX_DELAY = 60.0


@dataclass(frozen=True)
class Outcome:
    """What became of a sub-batch: entries restored, entries failed with reasons, and the
    cataloged directories it made."""

    restored: list[RestoredFile]
    failed: list[FileFailure]
    created: list[bytes] = field(default_factory=list)

    def retryable(self) -> set[bytes]:
        """Paths whose failure may clear up (the object store unreachable, say)."""
        return {f["path"] for f in self.failed if f["retryable"]}

    def unreachable(self) -> bool:
        """Whether some file failed because the object store could not be reached."""
        return any(f["retryable"] and f["reason"].startswith(UNREACHABLE) for f in self.failed)

    def with_retried(self, retried: Outcome) -> Outcome:
        """This outcome with its retried entries' outcomes replaced by ``retried``."""
        again = self.retryable()
        return Outcome(
            self.restored + retried.restored,
            [f for f in self.failed if f["path"] not in again] + retried.failed,
            self.created + retried.created,
        )


async def until_settled(
    attempt: Callable[[set[bytes] | None], Awaitable[Outcome]],
    sleep: Callable[[float], Awaitable[None]],
    name: str = "",
) -> Outcome:
    """Run ``attempt`` (every entry first, then only the retryable failures) until no
    failure is worth retrying: up to ``RETRY_DELAYS`` for most, but for as long as the
    object store stays unreachable, so that an outage delays a GET without losing it."""
    outcome = await attempt(None)
    tries = 0
    while outcome.retryable() and (tries < len(RETRY_DELAYS) or outcome.unreachable()):
        delay = RETRY_DELAYS[tries] if tries < len(RETRY_DELAYS) else MAX_DELAY
        tries += 1
        log.warning(
            "object store trouble in %s (%d files); retrying in %.0fs",
            name,
            len(outcome.retryable()),
            delay,
        )
        await sleep(delay)
        outcome = outcome.with_retried(await attempt(outcome.retryable()))
    return outcome


def restore_batch(
    store: Filler,
    files: UserFiles,
    entries: Sequence[SelectedFile],
    target: bytes | None,
    overwrite: bool,
    concurrency: int = DEFAULT_CONCURRENCY,
    tally: Tally = NO_TALLY,
    durability: Durability = "auto",
) -> Outcome:
    """Restore ``entries`` below ``target`` (or in place) through the requester's worker
    ``files``, counting each regular file in ``tally``; never raises for a file, store or
    disk problem."""
    try:
        planned = plan(entries, target, files.who, overwrite)
    except UnsafePath as refused:
        return all_failed(entries, str(refused))
    try:
        done = restore(planned, files, store, concurrency, tally, durability)
    except WorkerFailed as failed:
        return all_failed(entries, str(failed))
    ids = {f["path"]: f["file_id"] for f in entries}
    created = [p.path for p in done.created]
    return _outcome([*planned.refusals, *done.results], ids.__getitem__, created)


def finish_batch(
    files: UserFiles, entries: Sequence[SelectedFile], target: bytes | None
) -> Outcome:
    """The finishing pass: ``entries`` are directories this GET made; give them their mode
    and mtime again. Those skipped are reported failed (the decider counts neither)."""
    try:
        outcomes = finish_made_directories(entries, target, files.who, files)
    except UnsafePath as refused:
        return all_failed(entries, str(refused))
    except WorkerFailed as failed:
        return all_failed(entries, str(failed))
    ids = {f["path"]: f["file_id"] for f in entries}
    return _outcome(outcomes, ids.__getitem__, [])


def _outcome(
    outcomes: Sequence[Restored | Refusal], file_id: Callable[[bytes], int], created: list[bytes]
) -> Outcome:
    restored: list[RestoredFile] = []
    failed: list[FileFailure] = []
    for outcome in outcomes:
        if isinstance(outcome, Restored):
            restored.append(
                RestoredFile(file_id=file_id(outcome.path), path=outcome.path, size=outcome.size)
            )
        else:
            failed.append(outcome.as_file_failure())
    return Outcome(restored, failed, created)


def all_failed(files: Sequence[SelectedFile], reason: str) -> Outcome:
    """Every entry of ``files`` failed for the same ``reason``, which retrying cannot change."""
    return Outcome([], [FileFailure(path=f["path"], reason=reason, retryable=False) for f in files])
