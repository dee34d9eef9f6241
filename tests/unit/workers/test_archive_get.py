"""archive-get's handling of recalls, with a fake recall: a failed stage is tried again
with the configured pauses; what cannot be recalled is reported failed; the requests of
one aggregate wait for each other and leave no lock behind."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from events.base import event_id_for
from events.catalog import RecalledFile
from events.topics import REPORTS
from events.work import RecallRequested
from nearline.settings import RecallSettings
from processors.archive_get.recall import StageExpired, StageFailed, all_failed
from processors.archive_get.worker import Recaller

from .fakes import Sent

CONFIG = RecallSettings(retry_delays_s=[2.0, 5.0])


def request(transaction: str, aggregate: str = "h1/agg-1.tar") -> RecallRequested:
    return RecallRequested(
        event_id=event_id_for(transaction, "recall"),
        transaction_id=transaction,
        user="alice",
        group="climate",
        cause_id=None,
        occurred_at=1,
        sub_batch=0,
        holding_id=1,
        aggregate=aggregate,
        members=[
            {
                "file_id": 9,
                "path": b"/d/a",
                "object_key": "h1/t/a",
                "offset": 512,
                "size": 3,
                "sha256": "0" * 64,
                "adler32": "0" * 8,
            }
        ],
    )


def recaller(recall, waits: list[float] | None = None) -> tuple[Recaller, Sent]:
    sent = Sent()

    async def sleep(delay: float) -> None:
        (waits if waits is not None else []).append(delay)

    return Recaller(CONFIG, object(), object(), sent, recall_=recall, sleep=sleep), sent


def test_a_failed_stage_is_tried_again_then_reported_recalled():
    calls: list[str] = []

    def recall(_store, _tape, req, _timeout, _poll, *, tally):
        calls.append(req.aggregate)
        if len(calls) == 1:
            raise StageFailed("the recall failed")
        tally.done(9, 3)
        recalled = RecalledFile(file_id=9, path=b"/d/a", object_key="h1/t/a", size=3)
        return replace(all_failed(req, "", False), failed=[], recalled=[recalled])

    waits: list[float] = []
    worker, sent = recaller(recall, waits)
    asyncio.run(worker.handle(request("t1")))
    assert calls == ["h1/agg-1.tar"] * 2 and waits == [2.0]
    (report,) = sent.events(REPORTS)
    assert [m["file_id"] for m in report.recalled] == [9] and report.failed == []
    assert worker.locks == {}


def test_a_recall_that_cannot_succeed_fails_every_member_at_once():
    def recall(*_args, tally):
        raise StageExpired("not online within 6 hours")

    waits: list[float] = []
    worker, sent = recaller(recall, waits)
    asyncio.run(worker.handle(request("t1")))
    (report,) = sent.events(REPORTS)
    assert waits == [] and [f["file_id"] for f in report.failed] == [9]


def test_requests_of_one_aggregate_are_recalled_one_after_the_other():
    running: list[str] = []
    overlapped: list[bool] = []

    def recall(_store, _tape, req, _timeout, _poll, *, tally):
        overlapped.append(bool(running))
        running.append(req.transaction_id)
        try:
            time.sleep(0.05)
        finally:
            running.remove(req.transaction_id)
        return all_failed(req, "fake", False)

    worker, sent = recaller(recall)

    async def both() -> None:
        await asyncio.gather(worker.handle(request("t1")), worker.handle(request("t2")))

    asyncio.run(both())
    assert overlapped == [False, False] and len(sent.events(REPORTS)) == 2
    assert worker.locks == {}
