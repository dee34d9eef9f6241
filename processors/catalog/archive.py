"""The decider's archive and eviction decisions.

Archive: the sweep's ``ArchiveRequested`` names cached files of one holding; the files
still cached, not on tape and not in flight are scheduled (``ArchiveScheduled``, the
pending fact that keeps later sweeps from sending them again) and sent to archive-put.
Its ``AggregateArchived`` report settles them as ``FilesArchived``. Eviction: the evict
worker removed cache copies and reports; ``FilesEvicted`` records those of files that
have a tape copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.aggregate_names import aggregate_name
from events.catalog import (
    ArchivedMember,
    ArchiveScheduled,
    EvictedFile,
    FilesArchived,
    FilesEvicted,
    MemberFailure,
)
from events.reports import AggregateArchived, CacheCopiesRemoved
from events.requests import ArchiveRequested
from events.topics import ARCHIVE_PUT, CATALOG, DELETE_OBJECTS
from events.work import ArchiveMember, ArchivePutRequested, DeleteObjectsRequested
from processors.catalog.outgoing import Outgoing

if TYPE_CHECKING:
    from processors.catalog.decider import Decider


def schedule(decider: Decider, request: ArchiveRequested) -> list[Outgoing]:
    """Send the request's archivable files to archive-put as one aggregate."""
    out: list[Outgoing] = []
    state = decider.state
    scheduled = state.archive_requests.get(request.transaction_id)
    if scheduled is None:
        holding = state.holdings.get(request.holding_id)
        if holding is None or holding.user != request.user:
            return out
        members = [m for m in request.members if _archivable(decider, request.holding_id, m)]
        if not members:
            return out
        ids = [m["file_id"] for m in members]
        scheduled = ArchiveScheduled(
            **decider.envelope(request, "archive-scheduled"),
            holding_id=request.holding_id,
            aggregate=aggregate_name(request.holding_id, ids),
            file_ids=ids,
        )
        decider.fact(out, scheduled)
    else:  # redelivered, maybe after a crash: the same fact and work item, same ids
        out.append(Outgoing(CATALOG, scheduled.user.encode(), scheduled))
    in_flight = set(scheduled.file_ids)
    out.append(
        Outgoing(
            ARCHIVE_PUT,
            scheduled.aggregate.encode(),
            ArchivePutRequested(
                **decider.envelope(request, "archive-put"),
                holding_id=request.holding_id,
                aggregate=scheduled.aggregate,
                members=[m for m in request.members if m["file_id"] in in_flight],
            ),
        )
    )
    return out


def _archivable(decider: Decider, holding_id: int, member: ArchiveMember) -> bool:
    entry = decider.state.entry_of(holding_id, member["file_id"], member["path"])
    return (
        entry is not None
        and entry.stored
        and entry.cached
        and entry.tape is None
        and entry.pending is None
    )


def archived(decider: Decider, report: AggregateArchived) -> list[Outgoing]:
    """Record the members with a verified tape copy, and release the failed ones."""
    out: list[Outgoing] = []
    state = decider.state
    members: list[ArchivedMember] = []
    for member in report.members:
        entry = state.entry_of(report.holding_id, member["file_id"], member["path"])
        if entry is not None and entry.tape in (None, report.aggregate):
            members.append(member)
    failed: list[MemberFailure] = [
        f
        for f in report.failed
        if state.entry_of(report.holding_id, f["file_id"], f["path"]) is not None
    ]
    if not members and not failed:
        return out
    decider.fact(
        out,
        FilesArchived(
            **decider.envelope(report, "archived"),
            holding_id=report.holding_id,
            aggregate=report.aggregate if members else "",
            size=report.size if members else 0,
            adler32=report.adler32,
            members=members,
            failed=failed,
        ),
    )
    return out


def evicted(decider: Decider, report: CacheCopiesRemoved) -> list[Outgoing]:
    """Record the cache copies removed of files that have a tape copy."""
    out: list[Outgoing] = []
    files: list[EvictedFile] = []
    for removed in report.files:
        entry = decider.state.entry_of(report.holding_id, removed["file_id"], removed["path"])
        if entry is not None and entry.tape is not None and entry.cached:
            files.append(removed)
    if files:
        decider.fact(
            out,
            FilesEvicted(
                **decider.envelope(report, "evicted"),
                holding_id=report.holding_id,
                files=files,
            ),
        )
    # The evict worker leaves packs alone: one goes once none of its slices is cached (D90),
    # as this fold, which holds every file of the holding, counts them.
    known = report.holding_id in decider.state.holdings
    packs = decider.state.unused_packs(f["object_key"] for f in report.files) if known else []
    if packs:
        out.append(
            Outgoing(
                DELETE_OBJECTS,
                report.transaction_id.encode(),
                DeleteObjectsRequested(
                    **decider.envelope(report, "delete-packs"),
                    holding_id=report.holding_id,
                    sub_batch=0,
                    object_keys=packs,
                ),
            )
        )
    return out
