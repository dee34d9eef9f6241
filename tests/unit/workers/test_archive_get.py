"""archive-get's handling of recalls, with a fake stage and a fake put-back: a failed
stage is tried again with the configured pauses; what cannot be recalled is reported
failed; the requests of one aggregate share one stage and read their members at the
same time; a member wanted twice at once is put back once; nothing is kept once the
aggregate's requests have ended."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from events.base import event_id_for
from events.reports import AggregateOnline, AggregateRecalled
from events.topics import REPORTS, STATUS
from events.work import RECALL_ONLINE, RecallRequested
from nearline.settings import RecallSettings
from processors.archive_get.recall import StageExpired, StageFailed
from processors.archive_get.worker import Recaller
from stores.tape.packed_restore import PackedRestore

from .fakes import Sent

CONFIG = RecallSettings(retry_delays_s=[2.0, 5.0])
PACK = "h1/t1/pack=" + "a" * 64


def request(
    transaction: str, aggregate: str = "h1/agg-1.tar", file_ids: tuple[int, ...] = (9,)
) -> RecallRequested:
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
                "file_id": i,
                "path": b"/d/%d" % i,
                "object_key": f"h1/t/{i}",
                "offset": 512 * i,
                "size": 3,
                "sha256": "0" * 64,
                "adler32": "0" * 8,
            }
            for i in file_ids
        ],
    )


class PutBack:
    """Puts members back into one pack, slowly; remembers what it was asked, and whether
    two calls overlapped."""

    def __init__(self) -> None:
        self.asked: list[list[int]] = []
        self.running = 0
        self.overlapped = False

    def __call__(self, _store, _tape, _request, members, _below, _bytes, tally=None):
        self.asked.append([m["file_id"] for m in members])
        self.running += 1
        self.overlapped |= self.running > 1
        try:
            time.sleep(0.05)
        finally:
            self.running -= 1
        keys = {m["file_id"]: f"{PACK}#{m['offset']}+3" for m in members}
        return PackedRestore(keys, ())


class Stage:
    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.calls = 0
        self.failures = failures or []

    def __call__(self, _tape, _aggregate, _timeout, _first, _longest) -> bool:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        time.sleep(0.02)
        return True


def recaller(
    stage: Stage | None = None,
    put_back: PutBack | None = None,
    waits: list[float] | None = None,
) -> tuple[Recaller, Sent]:
    sent = Sent()

    async def sleep(delay: float) -> None:
        (waits if waits is not None else []).append(delay)

    worker = Recaller(
        CONFIG,
        object(),  # type: ignore[arg-type]
        object(),  # type: ignore[arg-type]
        sent,
        put_back_=put_back or PutBack(),
        stage_=stage or Stage(),
        sleep=sleep,
    )
    return worker, sent


def test_a_failed_stage_is_tried_again_then_reported_recalled():
    stage = Stage([StageFailed("the recall failed")])
    waits: list[float] = []
    worker, sent = recaller(stage, waits=waits)
    asyncio.run(worker.handle(request("t1")))
    assert stage.calls == 2 and waits == [2.0]
    (report,) = sent.events(REPORTS)
    assert [m["file_id"] for m in report.recalled] == [9] and report.failed == []
    assert report.recalled[0]["object_key"] == f"{PACK}#4608+3"  # where it was put back
    assert worker.aggregates.by_aggregate == {}


def test_a_recall_that_cannot_succeed_fails_every_member_at_once():
    waits: list[float] = []
    worker, sent = recaller(Stage([StageExpired("not online within 6 hours")]), waits=waits)
    asyncio.run(worker.handle(request("t1")))
    (report,) = sent.events(REPORTS)
    assert waits == [] and [f["file_id"] for f in report.failed] == [9]


def test_sub_batches_of_one_aggregate_share_one_stage_and_read_at_the_same_time():
    stage, put_back = Stage(), PutBack()
    worker, sent = recaller(stage, put_back)

    async def both() -> None:
        await asyncio.gather(
            worker.handle(request("t1", file_ids=(1, 2))),
            worker.handle(request("t1", file_ids=(3, 4))),
        )

    asyncio.run(both())
    assert stage.calls == 1 and put_back.overlapped
    assert sorted(put_back.asked) == [[1, 2], [3, 4]]
    reports = sent.events(REPORTS)
    assert sorted(r.staged for r in reports) == [False, True]
    assert sorted(m["file_id"] for r in reports for m in r.recalled) == [1, 2, 3, 4]
    assert worker.aggregates.by_aggregate == {}


def test_a_member_two_gets_want_at_once_is_put_back_once_and_reported_to_both():
    stage, put_back = Stage(), PutBack()
    worker, sent = recaller(stage, put_back)

    async def both() -> None:
        await asyncio.gather(
            worker.handle(request("t1", file_ids=(1, 2))),
            worker.handle(request("t2", file_ids=(2, 3))),
        )

    asyncio.run(both())
    assert stage.calls == 1
    assert sorted(i for asked in put_back.asked for i in asked) == [1, 2, 3]
    keys = [{m["file_id"]: m["object_key"] for m in r.recalled} for r in sent.events(REPORTS)]
    assert keys[0][2] == keys[1][2]


def test_a_request_after_the_last_one_ended_reads_its_members_again():
    stage, put_back = Stage(), PutBack()
    worker, _sent = recaller(stage, put_back)

    async def one_after_the_other() -> None:
        await worker.handle(request("t1", file_ids=(1, 2)))
        await worker.handle(request("t2", file_ids=(1, 2)))

    asyncio.run(one_after_the_other())
    # (the stage finds the aggregate still on disk and skips the tape: stage_if_offline)
    assert put_back.asked == [[1, 2], [1, 2]] and stage.calls == 2
    assert worker.aggregates.by_aggregate == {}


def online_request(transaction: str, file_ids: tuple[int, ...] = (9,)) -> RecallRequested:
    return dataclasses.replace(request(transaction, file_ids=file_ids), step=RECALL_ONLINE)


def test_a_gets_recall_only_stages_then_reports_the_aggregate_online():
    stage, put_back = Stage([StageFailed("busy")]), PutBack()
    worker, sent = recaller(stage, put_back)
    asyncio.run(worker.handle(online_request("t1")))
    (online,) = sent.events(REPORTS)
    assert isinstance(online, AggregateOnline)
    assert (online.aggregate, online.sub_batch, online.staged) == ("h1/agg-1.tar", 0, True)
    assert stage.calls == 2 and put_back.asked == []  # the cache is filled later (D231)
    assert sent.events(STATUS) == []  # the GET's progress is transfer-get's
    assert worker.aggregates.by_aggregate == {}


def test_a_gets_recall_whose_stage_fails_reports_its_members_failed():
    stage = Stage([StageExpired("stage expired after 1 s")] * 3)
    worker, sent = recaller(stage)
    asyncio.run(worker.handle(online_request("t1", (9, 10))))
    (report,) = sent.events(REPORTS)
    assert isinstance(report, AggregateRecalled)
    assert [f["file_id"] for f in report.failed] == [9, 10] and report.recalled == []


def test_two_gets_of_one_aggregate_stage_it_once_and_both_are_told_online():
    stage = Stage()
    worker, sent = recaller(stage)

    async def both() -> None:
        await asyncio.gather(
            worker.handle(online_request("t1")), worker.handle(online_request("t2"))
        )

    asyncio.run(both())
    told = sent.events(REPORTS)
    assert sorted(o.transaction_id for o in told) == ["t1", "t2"]
    assert stage.calls == 1 and sorted(o.staged for o in told) == [False, True]
