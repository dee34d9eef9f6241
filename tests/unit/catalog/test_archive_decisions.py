"""The decider's archive and eviction decisions, as stories: a holding with two cached
files is archived, a second sweep finds them in flight, the report settles them, and
only archived files can be recorded as evicted."""

from __future__ import annotations

from domain.aggregate_names import aggregate_name
from domain.ids import file_id
from events.catalog import ArchiveScheduled, FilesArchived, FilesEvicted
from events.reports import AggregateArchived, CacheCopiesRemoved, FilesTransferred
from events.requests import ArchiveRequested
from events.topics import ARCHIVE_PUT
from events.work import ArchiveMember, ArchivePutRequested
from processors.catalog.decider import Decider
from tests.unit.catalog.test_decider import entry, envelope, indexed, new_decider, of_type, put

PATHS = (b"/data/a", b"/data/b")


def cached_holding() -> tuple[Decider, dict[bytes, int]]:
    """A decider whose holding 3 has two cached files; their catalog ids."""
    decider = new_decider()
    decider.handle(put("t1", label="run"))
    decider.handle(indexed("t1", 0, [entry(p) for p in PATHS], True, 3))
    decider.handle(
        FilesTransferred(
            **envelope("t1", "transferred/0"),
            holding_id=3,
            sub_batch=0,
            stored=[
                {
                    "path": p,
                    "object_key": f"k{p[-1:].decode()}",
                    "size": 10,
                    "adler32": "0a",
                    "sha256": "ab",
                }
                for p in PATHS
            ],
            failed=[],
        )
    )
    return decider, {p: file_id(3, "t1", p) for p in PATHS}


def member(path: bytes, id_: int) -> ArchiveMember:
    return ArchiveMember(
        file_id=id_,
        path=path,
        object_key="k",
        size=10,
        mode=0o644,
        mtime_ns=5,
        sha256="ab",
        adler32="0a",
    )


def archive_request(transaction: str, ids: dict[bytes, int], user: str = "alice"):
    return ArchiveRequested(
        **envelope(transaction, "archive-requested", user=user),
        holding_id=3,
        members=[member(p, i) for p, i in ids.items()],
    )


def test_archive_is_scheduled_once_settled_by_the_report_then_eviction_is_recorded():
    decider, ids = cached_holding()
    # The sweep's request schedules both files and sends one aggregate to archive-put.
    out = decider.handle(archive_request("s1", ids))
    [scheduled] = of_type(out, ArchiveScheduled)
    assert sorted(scheduled.file_ids) == sorted(ids.values())
    assert scheduled.aggregate == aggregate_name(3, ids.values())
    [work] = of_type(out, ArchivePutRequested)
    assert [o.topic for o in out if o.event is work] == [ARCHIVE_PUT]
    assert len(work.members) == 2
    # The same request redelivered sends the same fact and work item again.
    again = decider.handle(archive_request("s1", ids))
    assert [o.event.event_id for o in again] == [o.event.event_id for o in out]
    # Another sweep while they are in flight schedules nothing.
    assert decider.handle(archive_request("s2", ids)) == []
    # Eviction before the tape copy is recorded: nothing is recorded as evicted.
    evicted = [{"file_id": i, "path": p, "object_key": "k"} for p, i in ids.items()]
    removed = CacheCopiesRemoved(
        **envelope("e1", "removed"), holding_id=3, files=evicted, failed=[]
    )
    assert decider.handle(removed) == []
    # Archive-put reports one member archived and one failed.
    report = AggregateArchived(
        **envelope("s1", "aggregate-archived"),
        holding_id=3,
        aggregate=scheduled.aggregate,
        size=3072,
        adler32="12345678",
        members=[
            {
                "file_id": ids[PATHS[0]],
                "path": PATHS[0],
                "offset": 512,
                "size": 10,
                "sha256": "ab",
                "adler32": "0a",
            }
        ],
        failed=[
            {
                "file_id": ids[PATHS[1]],
                "path": PATHS[1],
                "reason": "object not found in the store",
                "retryable": False,
            }
        ],
    )
    [archived] = of_type(decider.handle(report), FilesArchived)
    assert [m["offset"] for m in archived.members] == [512]
    assert [f["file_id"] for f in archived.failed] == [ids[PATHS[1]]]
    # The failed file is free for a later sweep; the archived one is not sent again.
    out = decider.handle(archive_request("s3", ids))
    [scheduled] = of_type(out, ArchiveScheduled)
    assert scheduled.file_ids == [ids[PATHS[1]]]
    # Only the archived file's eviction is recorded.
    [fact] = of_type(decider.handle(removed), FilesEvicted)
    assert [f["file_id"] for f in fact.files] == [ids[PATHS[0]]]
    # A redelivered report records nothing more.
    assert decider.handle(removed) == []


def test_archive_requests_for_another_users_holding_or_unknown_files_are_ignored():
    decider, ids = cached_holding()
    assert decider.handle(archive_request("s1", ids, user="mallory")) == []
    stale = {b"/data/a": file_id(3, "another-put", b"/data/a")}  # another version's id
    assert decider.handle(archive_request("s2", stale)) == []
