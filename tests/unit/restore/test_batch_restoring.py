"""Transfer-get's restoring of one GET sub-batch: outcomes by catalog file id, redelivery,
and retrying while the object store is unreachable."""

from __future__ import annotations

import asyncio
import os

import pytest

from events.catalog import CatalogedFile, FileFailure, RestoredFile, SelectedFile
from processors.transfer_get.restoring import (
    MAX_DELAY,
    RETRY_DELAYS,
    Outcome,
    restore_batch,
    until_settled,
)
from stores.failures import CORRUPT, NOT_IN_STORE, UNREACHABLE

from .conftest import (
    ALICE,
    ALICE_UID,
    FakeStore,
    dir_entry,
    file_entry,
    link_entry,
    needs_root,
    owner,
    partials,
    read,
    session,
)


def as_selected(entry: CatalogedFile, file_id: int) -> SelectedFile:
    return SelectedFile(**entry, file_id=file_id, holding_id=1)


def tree(store: FakeStore) -> list[SelectedFile]:
    entries = [
        dir_entry(b"/run"),
        store.put(file_entry(b"/run/a.nc", b"aaa"), b"aaa"),
        store.put(file_entry(b"/run/b.nc", b"bbbb"), b"bbbb"),
        link_entry(b"/run/link", b"a.nc"),
    ]
    return [as_selected(e, i) for i, e in enumerate(entries, start=10)]


def restore_as_alice(
    store: FakeStore, entries: list[SelectedFile], target: bytes | None, overwrite: bool = False
) -> Outcome:
    """A sub-batch as transfer-get restores it: in a worker of the requester's own."""
    with session(ALICE) as files:
        return restore_batch(store, files, entries, target, overwrite)


@needs_root
def test_a_sub_batch_is_restored_and_reported_by_file_id(store, target):
    files = tree(store)
    outcome = restore_as_alice(store, files, target)
    assert outcome.failed == []
    assert sorted(r["file_id"] for r in outcome.restored) == [10, 11, 12, 13]
    assert sorted((r["path"], r["size"]) for r in outcome.restored if r["size"]) == [
        (b"/run/a.nc", 3),
        (b"/run/b.nc", 4),
    ]
    assert outcome.created == [b"/run"]
    assert read(target + b"/run/b.nc") == b"bbbb"
    assert os.readlink(target + b"/run/link") == b"a.nc"
    for name in (b"/run", b"/run/a.nc", b"/run/link"):
        assert owner(target + name) == (ALICE_UID, ALICE_UID)


@needs_root
def test_a_redelivered_sub_batch_finds_its_files_restored_not_refused(store, target):
    files = tree(store)
    restore_as_alice(store, files, target)
    fetched = len(store.downloads)
    again = restore_as_alice(store, files, target)
    assert again.failed == []
    assert sorted(r["file_id"] for r in again.restored) == [10, 11, 12, 13]
    assert len(store.downloads) == fetched  # nothing fetched again
    assert again.created == []  # /run was found this time


@needs_root
def test_a_changed_file_or_link_is_still_refused_without_overwrite(store, target):
    files = tree(store)
    restore_as_alice(store, files, target)
    with open(target + b"/run/a.nc", "wb") as f:
        f.write(b"mine now")
    os.unlink(target + b"/run/link")
    os.symlink(b"b.nc", target + b"/run/link")
    again = restore_as_alice(store, files, target)
    assert sorted(f["path"] for f in again.failed) == [b"/run/a.nc", b"/run/link"]
    assert all("overwrite" in f["reason"] for f in again.failed)
    assert read(target + b"/run/a.nc") == b"mine now"
    assert os.readlink(target + b"/run/link") == b"b.nc"


@needs_root
def test_a_corrupt_copy_fails_only_its_file(store, target):
    files = tree(store)
    store.objects[files[1]["object_key"] or ""] = b"xxx"  # same size, other bytes
    outcome = restore_as_alice(store, files, target)
    assert [(f["path"], f["reason"]) for f in outcome.failed] == [(b"/run/a.nc", CORRUPT)]
    assert not os.path.lexists(target + b"/run/a.nc")
    assert partials(target + b"/run") == []
    assert sorted(r["file_id"] for r in outcome.restored) == [10, 12, 13]


@needs_root
def test_a_missing_object_fails_only_its_file(store, target):
    files = tree(store)
    del store.objects[files[2]["object_key"] or ""]
    outcome = restore_as_alice(store, files, target)
    assert [(f["path"], f["reason"]) for f in outcome.failed] == [(b"/run/b.nc", NOT_IN_STORE)]
    assert sorted(os.listdir(target + b"/run")) == [b"a.nc", b"link"]


@needs_root
def test_in_place_a_sub_batch_belongs_to_the_requester(store, public_dir):
    home = public_dir + b"/home"
    os.mkdir(home)
    os.chown(home, ALICE_UID, ALICE_UID)
    entry = store.put(file_entry(home + b"/a", b"x", uid=0, gid=0), b"x")
    outcome = restore_as_alice(store, [as_selected(entry, 1)], None)
    assert outcome.failed == [] and owner(home + b"/a") == (ALICE_UID, ALICE_UID)


class Requesting:
    """Stands in for a worker where the restore must not reach one."""

    who = ALICE


def test_an_unsafe_target_fails_every_entry(store):
    files = tree(store)
    outcome = restore_batch(store, Requesting(), files, b"relative/out", overwrite=False)  # type: ignore[arg-type]
    assert outcome.restored == [] and len(outcome.failed) == 4
    assert all("not absolute" in f["reason"] for f in outcome.failed)
    assert not any(f["retryable"] for f in outcome.failed)


@needs_root
def test_a_worker_that_fails_fails_every_entry(store, target):
    files = tree(store)
    worker = session(ALICE)
    worker.close()  # gone before the sub-batch: nothing can be restored
    outcome = restore_batch(store, worker, files, target, overwrite=False)
    assert outcome.restored == [] and len(outcome.failed) == 4
    assert all("file-system worker of user alice failed" in f["reason"] for f in outcome.failed)
    assert os.listdir(target) == []


def failure(path: bytes, reason: str, retryable: bool = True) -> FileFailure:
    return FileFailure(path=path, reason=reason, retryable=retryable)


def done(path: bytes) -> RestoredFile:
    return RestoredFile(file_id=1, path=path, size=1)


def settle(outcomes: list[Outcome]) -> tuple[Outcome, list, list[float]]:
    asked: list = []
    slept: list[float] = []

    async def attempt(paths):
        asked.append(paths)
        return outcomes.pop(0)

    async def sleep(delay: float) -> None:
        slept.append(delay)

    return asyncio.run(until_settled(attempt, sleep)), asked, slept


def test_an_unreachable_store_is_retried_until_it_is_back():
    unreachable = [failure(b"/b", f"{UNREACHABLE} (EndpointConnectionError)")]
    first, still_down = Outcome([done(b"/a")], unreachable), Outcome([], unreachable)
    outcome, asked, slept = settle([first] + [still_down] * 5 + [Outcome([done(b"/b")], [])])
    # only the failed file is tried again, past the usual retries, until it succeeds
    assert asked == [None] + [{b"/b"}] * 6
    assert slept == [*RETRY_DELAYS] + [MAX_DELAY] * 3
    assert [r["path"] for r in outcome.restored] == [b"/a", b"/b"] and outcome.failed == []


def test_other_retryable_failures_are_reported_after_the_retries():
    busy = Outcome([], [failure(b"/b", "object store refused the request: SlowDown (HTTP 503)")])
    outcome, asked, slept = settle([busy] * 4)
    assert slept == [*RETRY_DELAYS] and len(asked) == 4
    assert [f["path"] for f in outcome.failed] == [b"/b"]


@pytest.mark.parametrize("reason", [CORRUPT, "exists; use overwrite to replace it"])
def test_failures_retrying_cannot_change_are_reported_at_once(reason):
    outcome, asked, slept = settle([Outcome([], [failure(b"/b", reason, retryable=False)])])
    assert asked == [None] and slept == [] and outcome.failed[0]["reason"] == reason
