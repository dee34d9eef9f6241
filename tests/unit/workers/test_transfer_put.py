"""transfer-put's handling of a sub-batch, with a fake object store and fake uploads: what
goes to packs and what alone, and when it reports, retries or gives up."""

from __future__ import annotations

import asyncio

from events.base import event_id_for
from events.reports import FilesTransferred
from events.status import TransactionStateChanged
from events.topics import REPORTS, STATUS
from events.work import TransferPutRequested
from nearline.settings import RetrySettings
from processors.transfer_put.worker import transfer, upload_opened
from stores.outcomes import Failure, Stored

from .fakes import Sent, settings

SMALL, LARGE = 10, 5 * 1024 * 1024

REQUEST = TransferPutRequested(
    event_id=event_id_for("t1", "transfer-put/0"),
    transaction_id="t1",
    user="alice",
    group="climate",
    cause_id=None,
    occurred_at=1,
    holding_id=7,
    sub_batch=0,
    files=[
        {"path": b"/d/small", "size": SMALL, "mtime_ns": 1, "object_key": "h7/t1/small"},
        {"path": b"/d/large", "size": LARGE, "mtime_ns": 2, "object_key": "h7/t1/large"},
        {"path": b"/d/empty", "size": 0, "mtime_ns": 3, "object_key": "h7/t1/empty"},
    ],
)


def stored(key: str, size: int) -> Stored:
    return Stored(key=key, size=size, adler32="0" * 8, sha256="0" * 64, etag="e")


class FakeStore:
    """Records which files went into packs and which were uploaded alone."""

    def __init__(self) -> None:
        self.packed: list[bytes] = []
        self.alone: list[tuple[bytes, str]] = []

    def upload_packed(self, items, prefix, target_bytes, opener, tally):
        self.packed += [path for path, _ in items]
        return [stored(f"{prefix}pack#{i}", e.size) for i, (_, e) in enumerate(items)]

    def upload_many(self, items, concurrency=None, opener=None, tally=None):
        self.alone += [(path, key) for path, key, _ in items]
        return [stored(key, e.size) for _, key, e in items]


def test_small_files_go_into_packs_and_the_others_alone_in_order():
    store = FakeStore()
    results = upload_opened(settings(), store, REQUEST, opener=None)
    assert store.packed == [b"/d/small"]
    assert store.alone == [(b"/d/large", "h7/t1/large"), (b"/d/empty", "h7/t1/empty")]
    assert [r.size for r in results] == [SMALL, LARGE, 0]


def run(results, attempt: int, max_attempts: int = 2):
    sent, retries = Sent(), []

    async def retry_later(attempt: int, delay: float, reason: str) -> None:
        retries.append((attempt, delay, reason))

    def upload(_settings, _store, request, tally):
        for item in request.files:
            tally.moved(item["path"], item["size"])
        return results

    config = settings(retry=RetrySettings(first_delay_s=2, factor=2, max_attempts=max_attempts))
    asyncio.run(transfer(config, FakeStore(), REQUEST, attempt, sent, retry_later, upload))
    return sent, retries


def test_a_stored_sub_batch_is_reported_to_the_decider():
    results = [stored("a", SMALL), stored("h7/t1/large", LARGE), stored("h7/t1/empty", 0)]
    sent, retries = run(results, attempt=1)
    assert retries == []
    (report,) = sent.events(REPORTS)
    assert isinstance(report, FilesTransferred)
    assert [s["path"] for s in report.stored] == [b"/d/small", b"/d/large", b"/d/empty"]
    assert report.failed == [] and report.cause_id == REQUEST.event_id


def test_an_unreachable_store_sets_the_sub_batch_aside_and_says_so_on_status():
    down = Failure("object store unreachable: refused", retryable=True)
    sent, retries = run([stored("a", SMALL), down, down], attempt=2)
    assert retries == [(2, 4.0, "object store unreachable: refused")]
    assert sent.events(REPORTS) == []
    (status,) = [e for e in sent.events(STATUS) if e.progress is None]
    assert isinstance(status, TransactionStateChanged)
    assert (status.state, status.retries) == ("TRANSFER_PUTTING", 2)


def test_after_the_last_attempt_the_files_fail_with_the_reason():
    down = Failure("object store unreachable: refused", retryable=True)
    gone = Failure("the file is gone", retryable=False)
    sent, retries = run([gone, down, down], attempt=3, max_attempts=2)
    assert retries == []
    (report,) = sent.events(REPORTS)
    assert [(f["path"], f["retryable"]) for f in report.failed] == [
        (b"/d/small", False),
        (b"/d/large", True),
        (b"/d/empty", True),
    ]
