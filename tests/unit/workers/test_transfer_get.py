"""transfer-get's handling of a sub-batch, with a fake restore: failures from an
unreachable store are tried again until they settle, progress is told, and the
report carries what was restored."""

from __future__ import annotations

import asyncio

from events.base import event_id_for
from events.catalog import FileFailure, RestoredFile, SelectedFile
from events.reports import FilesRestored
from events.topics import REPORTS, STATUS
from events.work import TransferGetRequested
from processors.transfer_get.restoring import Outcome
from processors.transfer_get.worker import transfer_get
from stores.failures import UNREACHABLE

from .fakes import Sent, settings


def selected(path: bytes, size: int) -> SelectedFile:
    return SelectedFile(
        path=path,
        path_type="FILE",
        link_path=None,
        size=size,
        mode=0o100644,
        uid=1000,
        gid=1000,
        mtime_ns=1,
        object_key=f"h1/t3/{path.decode()}",
        adler32="0" * 8,
        sha256="0" * 64,
        file_id=len(path),
        holding_id=1,
    )


REQUEST = TransferGetRequested(
    event_id=event_id_for("t3", "transfer-get/0"),
    transaction_id="t3",
    user="alice",
    group="climate",
    cause_id=None,
    occurred_at=1,
    sub_batch=0,
    target=None,
    overwrite=False,
    files=[selected(b"a", 3), selected(b"bb", 4)],
)


def test_unreachable_files_are_restored_again_until_settled_then_reported():
    asked: list[set[bytes] | None] = []
    waits: list[float] = []

    def restore(_settings, _store, request, paths, tally):
        asked.append(paths)
        if paths is None:  # the first attempt: the store goes away after one file
            tally.done(b"a", 3)
            down = FileFailure(path=b"bb", reason=f"{UNREACHABLE}: refused", retryable=True)
            return Outcome([RestoredFile(file_id=1, path=b"a", size=3)], [down])
        return Outcome([RestoredFile(file_id=2, path=p, size=4) for p in paths], [])

    async def sleep(delay: float) -> None:
        waits.append(delay)

    sent = Sent()
    asyncio.run(transfer_get(settings(), object(), REQUEST, sent, restore, sleep))
    assert asked == [None, {b"bb"}] and waits == [1.0]
    (report,) = sent.events(REPORTS)
    assert isinstance(report, FilesRestored)
    assert [r["path"] for r in report.restored] == [b"a", b"bb"] and report.failed == []
    (progress,) = sent.events(STATUS)  # the end: both files done
    assert progress.progress["files_done"] == 2 and progress.progress["bytes_done"] == 7
    assert sent.items[-1][0] == REPORTS  # figures first, then the report
