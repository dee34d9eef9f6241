"""The decider's eviction decisions: the evict worker removed cache copies and reports;
``FilesEvicted`` records those of files that have a tape copy, and the packs none of whose
slices is cached any more go to the object deleter (D90)."""

from __future__ import annotations

from events.catalog import EvictedFile, FilesEvicted
from events.reports import CacheCopiesRemoved
from events.topics import DELETE_OBJECTS
from events.work import DeleteObjectsRequested
from processors.catalog.emitting import Context, Emitter


def evicted(ctx: Context, report: CacheCopiesRemoved, emit: Emitter) -> None:
    """Record the cache copies removed of files that have a tape copy."""
    state = ctx.state
    files: list[EvictedFile] = []
    for removed in report.files:
        entry = state.entry_of(report.holding_id, removed["file_id"], removed["path"])
        if entry is not None and entry.tape is not None and entry.cached:
            files.append(removed)
    if files:
        emit.fact(
            FilesEvicted(
                **emit.envelope(report, "evicted"),
                holding_id=report.holding_id,
                files=files,
            ),
        )
    # The evict worker leaves packs alone: one goes once none of its slices is cached (D90),
    # as this fold, which holds every file of the holding, counts them.
    known = report.holding_id in state.holdings
    packs = state.unused_packs(f["object_key"] for f in report.files) if known else []
    if packs:
        emit.send(
            DELETE_OBJECTS,
            report.transaction_id.encode(),
            DeleteObjectsRequested(
                **emit.envelope(report, "delete-packs"),
                holding_id=report.holding_id,
                sub_batch=0,
                object_keys=packs,
            ),
        )
