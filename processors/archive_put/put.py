"""Archive-put: one aggregate of a holding's cached files written to tape, as a report.

``AggregateArchived`` says where each member's bytes are in the tar and which members
failed. The aggregate's tape path is a function of its members, and the endpoint reuses
an existing file with the same bytes, so a redelivered request writes nothing twice.
"""

from __future__ import annotations

from events.base import caused_by
from events.catalog import ArchivedMember, MemberFailure
from events.reports import AggregateArchived
from events.work import ArchivePutRequested
from stores.tape.aggregate import AggregateIndex, Member, archive
from stores.tape.cache_reading import CachedObjects
from stores.tape.endpoint import TapeEndpoint


def members_of(request: ArchivePutRequested) -> list[Member]:
    return [
        Member(
            file_id=m["file_id"],
            path=m["path"],
            object_key=m["object_key"],
            size=m["size"],
            mode=m["mode"],
            mtime_ns=m["mtime_ns"],
            sha256=m["sha256"],
            adler32=m["adler32"],
        )
        for m in request.members
    ]


def archive_put(
    store: CachedObjects, tape: TapeEndpoint, request: ArchivePutRequested
) -> AggregateArchived:
    """Write the aggregate (or find it written) and report it. Raises ``TapeFailure`` and
    ``CacheFailure`` as ``aggregate.archive`` does."""
    index = archive(store, tape, request.holding_id, members_of(request))
    return report(request, index)


def report(request: ArchivePutRequested, index: AggregateIndex) -> AggregateArchived:
    paths = {m["file_id"]: m["path"] for m in request.members}
    return _report(
        request,
        aggregate=index.name if index.members else "",
        size=index.size,
        adler32=index.adler32,
        members=[
            ArchivedMember(
                file_id=c.file_id,
                path=c.path,
                offset=c.offset,
                size=c.size,
                sha256=c.sha256,
                adler32=c.adler32,
            )
            for c in index.members
        ],
        failed=[
            MemberFailure(
                file_id=f.file_id, path=paths[f.file_id], reason=f.reason, retryable=False
            )
            for f in index.failed
        ],
    )


def all_failed(request: ArchivePutRequested, reason: str, retryable: bool) -> AggregateArchived:
    """Nothing was archived: every member failed for the same reason."""
    failed = [
        MemberFailure(file_id=m["file_id"], path=m["path"], reason=reason, retryable=retryable)
        for m in request.members
    ]
    return _report(request, aggregate="", size=0, adler32="00000001", members=[], failed=failed)


def _report(request: ArchivePutRequested, **fields: object) -> AggregateArchived:
    return AggregateArchived(
        **caused_by(request, "aggregate-archived"),
        holding_id=request.holding_id,
        **fields,  # type: ignore[arg-type]
    )
