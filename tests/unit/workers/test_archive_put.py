"""archive-put's handling of a request, with the write faked: an unavailable endpoint is
tried again after the configured pauses, a failure that cannot clear fails every member
at once, and the report goes to the decider under the user's key."""

from __future__ import annotations

import asyncio

import pytest

from events.base import event_id_for
from events.reports import AggregateArchived
from events.topics import REPORTS
from events.work import ArchivePutRequested
from processors.archive_put import put
from stores.tape.errors import TapeFailure, TapeUnavailable

from .fakes import Sent

REQUEST = ArchivePutRequested(
    event_id=event_id_for("a1", "archive-put"),
    transaction_id="a1",
    user="nearline",
    group="nearline",
    cause_id=None,
    occurred_at=1,
    holding_id=2,
    aggregate="h2/agg-1.tar",
    members=[
        {
            "file_id": 5,
            "path": b"/d/a",
            "object_key": "h2/t/a",
            "size": 3,
            "mode": 0o100644,
            "mtime_ns": 1,
            "sha256": "0" * 64,
            "adler32": "0" * 8,
        }
    ],
)


def run(monkeypatch, failures: list[Exception]) -> tuple[Sent, list[float], int]:
    tries = []

    def archive_put(_store, _tape, request):
        tries.append(1)
        if failures:
            raise failures.pop(0)
        return put.all_failed(request, "", False)  # stands for a written aggregate

    monkeypatch.setattr(put, "archive_put", archive_put)
    sent, waits = Sent(), []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    asyncio.run(put.archive_with_retries(object(), object(), REQUEST, sent, sleep))
    return sent, waits, len(tries)


def test_an_unavailable_endpoint_is_tried_again_then_the_aggregate_reported(monkeypatch):
    sent, waits, tries = run(monkeypatch, [TapeUnavailable("down"), TapeUnavailable("down")])
    assert tries == 3 and waits == [2.0, 5.0]
    ((topic, key, report),) = sent.items
    assert (topic, key) == (REPORTS, b"nearline") and isinstance(report, AggregateArchived)
    assert not any("not archived" in f["reason"] for f in report.failed)


@pytest.mark.parametrize("error", [TapeFailure("bad request"), TapeUnavailable("down")])
def test_what_does_not_clear_fails_every_member(monkeypatch, error):
    sent, _waits, tries = run(monkeypatch, [error] * 4)
    (report,) = sent.events(REPORTS)
    assert [f["file_id"] for f in report.failed] == [5]
    assert report.failed[0]["reason"].startswith("not archived")
    assert tries == (1 if not error.retryable else 4)
