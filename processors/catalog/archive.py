"""The decider's archive decisions.

The sweep's ``ArchiveRequested`` names cached files of one holding; the files still
cached, not on tape and not in flight are scheduled (``ArchiveScheduled``, the pending
fact that keeps later sweeps from sending them again) and sent to archive-put. Its
``AggregateArchived`` report settles them as ``FilesArchived``.
"""

from __future__ import annotations

from domain.aggregate_names import aggregate_name
from events.catalog import ArchivedMember, ArchiveScheduled, FilesArchived, MemberFailure
from events.reports import AggregateArchived
from events.requests import ArchiveRequested
from events.topics import ARCHIVE_PUT, CATALOG
from events.work import ArchiveMember, ArchivePutRequested
from processors.catalog.emitting import Context, Emitter
from processors.catalog.state import CatalogState


def schedule(ctx: Context, request: ArchiveRequested, emit: Emitter) -> None:
    """Send the request's archivable files to archive-put as one aggregate."""
    state = ctx.state
    scheduled = state.archive_requests.get(request.transaction_id)
    if scheduled is None:
        holding = state.holdings.get(request.holding_id)
        if holding is None or holding.user != request.user:
            return
        members = [m for m in request.members if _archivable(state, request.holding_id, m)]
        if not members:
            return
        ids = [m["file_id"] for m in members]
        scheduled = ArchiveScheduled(
            **emit.envelope(request, "archive-scheduled"),
            holding_id=request.holding_id,
            aggregate=aggregate_name(request.holding_id, ids),
            file_ids=ids,
        )
        emit.fact(scheduled)
    else:  # redelivered, maybe after a crash: the same fact and work item, same ids
        emit.send(CATALOG, scheduled.user.encode(), scheduled)
    in_flight = set(scheduled.file_ids)
    emit.send(
        ARCHIVE_PUT,
        scheduled.aggregate.encode(),
        ArchivePutRequested(
            **emit.envelope(request, "archive-put"),
            holding_id=request.holding_id,
            aggregate=scheduled.aggregate,
            members=[m for m in request.members if m["file_id"] in in_flight],
        ),
    )


def _archivable(state: CatalogState, holding_id: int, member: ArchiveMember) -> bool:
    entry = state.entry_of(holding_id, member["file_id"], member["path"])
    return (
        entry is not None
        and entry.stored
        and entry.cached
        and entry.tape is None
        and entry.pending is None
    )


def archived(ctx: Context, report: AggregateArchived, emit: Emitter) -> None:
    """Record the members with a verified tape copy, and release the failed ones."""
    state = ctx.state
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
        return
    emit.fact(
        FilesArchived(
            **emit.envelope(report, "archived"),
            holding_id=report.holding_id,
            aggregate=report.aggregate if members else "",
            size=report.size if members else 0,
            adler32=report.adler32,
            members=members,
            failed=failed,
        ),
    )
