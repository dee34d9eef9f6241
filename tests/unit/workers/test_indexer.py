"""The indexer's handling of a request: each sub-batch of the walk reported as it comes,
and a requester nearline does not act for refused path by path."""

from __future__ import annotations

import asyncio

from events.base import event_id_for
from events.reports import FilesIndexed
from events.topics import REPORTS
from events.work import IndexRequested
from nearline.settings import PosixSettings
from processors import user_files
from processors.indexer import worker
from processors.indexer.batching import batches
from processors.indexer.walk import FILE, FileRecord
from stores.posix.requesters import UnknownUser

from .fakes import Sent, settings

REQUEST = IndexRequested(
    event_id=event_id_for("t2", "index"),
    transaction_id="t2",
    user="alice",
    group="climate",
    cause_id=None,
    occurred_at=1,
    holding_id=4,
    paths=[b"/d/a", b"/d/b", b"/d/c"],
    path_list_file=b"/d/list",
    max_files=2,
    max_bytes=1 << 30,
)


def record(path: bytes) -> FileRecord:
    return FileRecord(path, FILE, None, 5, 0o644, 1000, 1000, 1)


def test_each_sub_batch_is_reported_in_order_the_last_marked():
    def walk(_settings, request):
        return batches(iter([record(p) for p in request.paths]), 2, 1 << 30)

    sent = Sent()
    asyncio.run(worker.index(settings(), REQUEST, sent, walk))
    reports = sent.events(REPORTS)
    assert all(isinstance(r, FilesIndexed) for r in reports)
    assert [(r.sub_batch, len(r.files), r.last) for r in reports] == [(0, 2, False), (1, 1, True)]
    assert len({r.event_id for r in reports}) == 2


def test_a_user_unknown_on_the_file_servers_has_every_named_path_refused(monkeypatch):
    def unknown(user, _min_uid):
        raise UnknownUser(user)

    monkeypatch.setattr(user_files, "requester_for", unknown)
    sent = Sent()
    asyncio.run(worker.index(settings(posix=PosixSettings(min_uid=1000)), REQUEST, sent))
    refused = [f for r in sent.events(REPORTS) for f in r.rejected]
    assert [f["path"] for f in refused] == [b"/d/a", b"/d/b", b"/d/c", b"/d/list"]
    assert all("not known on the file servers" in f["reason"] for f in refused)


def test_a_redelivered_request_reports_the_same_ids():
    def walk(_settings, request):
        return batches(iter([record(p) for p in request.paths]), 2, 1 << 30)

    first, again = Sent(), Sent()
    asyncio.run(worker.index(settings(), REQUEST, first, walk))
    asyncio.run(worker.index(settings(), REQUEST, again, walk))
    assert [e.event_id for e in first.events(REPORTS)] == [
        e.event_id for e in again.events(REPORTS)
    ]
