"""Restoring one sub-batch of a GET with ``processors.restore``: plan as the requester,
then directories, files (downloaded concurrently, each verified), links, and directory
metadata last; every entry ends restored or failed with a reason. The directories it
made (rather than found) are reported, for the GET's finishing pass (``finish_batch``,
decision D34).

A redelivered sub-batch finds the files it restored already in place: a regular file
(or link) at the destination that is what the catalog describes (size and mtime, or the
link's target) counts as restored, instead of being refused as existing.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from events.catalog import FileFailure, RestoredFile, SelectedFile
from processors.indexing.access import Requester
from processors.indexing.walk import FILE, LINK
from processors.restore.finishing import finish_made_directories
from processors.restore.placement import UnsafePath, destination
from processors.restore.restore import (
    EXISTS,
    Downloader,
    Placement,
    Refusal,
    Restored,
    fetch,
    finish_directories,
    finish_file,
    make_directories,
    plan,
    restore_link,
)
from processors.transfer.failures import UNREACHABLE

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16  # files in flight: small files are latency-bound, as uploads
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
    store: Downloader,
    files: Sequence[SelectedFile],
    target: bytes | None,
    who: Requester,
    overwrite: bool,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Outcome:
    """Restore ``files`` for ``who`` below ``target`` (or in place); never raises for a
    file, store or disk problem."""
    try:
        planned = plan(files, target, who, overwrite)
    except ValueError as refused:  # an unsafe target (UnsafePath), or no primary group
        return all_failed(files, str(refused))
    by_path: dict[bytes, SelectedFile] = {p.path: _selected(p) for p in planned.placements}
    outcomes: list[Restored | Refusal] = []
    given = {f["path"]: f for f in files}
    for refusal in planned.refusals:
        entry = given.get(refusal.path)
        if refusal.reason == EXISTS and entry is not None and _already_there(entry, target):
            by_path.setdefault(entry["path"], entry)
            size = entry["size"] if entry["path_type"] == FILE else 0
            outcomes.append(Restored(entry["path"], b"", size))
        else:
            outcomes.append(refusal)
    made = make_directories(planned.placements)
    downloads = planned.of_type(FILE)
    workers = max(1, min(concurrency, len(downloads)))
    with ThreadPoolExecutor(workers, thread_name_prefix="nearline-get") as pool:
        fetched = list(pool.map(lambda p: fetch(store, p, made), downloads))
    outcomes += [finish_file(p, d) for p, d in zip(downloads, fetched, strict=True)]
    outcomes += [restore_link(p, made) for p in planned.of_type(LINK)]
    outcomes += finish_directories(made)
    created = [p.path for p in made.created]
    return _outcome(outcomes, lambda path: by_path[path]["file_id"], created)


def finish_batch(files: Sequence[SelectedFile], target: bytes | None, who: Requester) -> Outcome:
    """The finishing pass: ``files`` are directories this GET made; give them their mode
    and mtime again. Those skipped are reported failed (the decider counts neither)."""
    try:
        outcomes = finish_made_directories(files, target, who)
    except ValueError as refused:  # an unsafe target (UnsafePath)
        return all_failed(files, str(refused))
    ids = {f["path"]: f["file_id"] for f in files}
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


def _selected(placement: Placement) -> SelectedFile:
    return placement.entry  # type: ignore[return-value]  # planned from SelectedFiles


def _already_there(entry: SelectedFile, target: bytes | None) -> bool:
    """Whether the entry at the destination is the cataloged one (restored before)."""
    try:
        st = os.lstat(destination(entry["path"], target))
    except (OSError, UnsafePath):
        return False
    if entry["path_type"] == LINK:
        return (
            stat.S_ISLNK(st.st_mode)
            and os.readlink(destination(entry["path"], target)) == entry["link_path"]
        )
    return (
        entry["path_type"] == FILE
        and stat.S_ISREG(st.st_mode)
        and st.st_size == entry["size"]
        and st.st_mtime_ns == entry["mtime_ns"]
    )
