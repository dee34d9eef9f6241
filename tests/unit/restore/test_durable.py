"""A GET moves no file into place before its bytes are on disk: the files of a sub-batch
are synced together, once per file system, and a failed sync restores none of them."""

from __future__ import annotations

import errno
import os

import pytest

from processors.transfer_get.restoring import restore_batch
from stores import durability

from .conftest import ALICE, FakeStore, file_entry, needs_root, session

pytestmark = needs_root


def stored(store: FakeStore, count: int) -> list:
    chosen = []
    for i in range(count):
        data = b"data %d\n" % i
        entry = store.put(file_entry(b"/run/f%02d" % i, data), data)
        chosen.append({**entry, "file_id": i, "holding_id": 1})
    return chosen


def test_a_sub_batch_is_synced_once_per_file_system(target, store, monkeypatch):
    synced: list[int] = []
    real = durability.sync_file_system
    monkeypatch.setattr(durability, "sync_file_system", lambda fd: (synced.append(fd), real(fd))[1])
    with session(ALICE) as files:
        outcome = restore_batch(store, files, stored(store, 30), target, overwrite=False)
    assert len(outcome.restored) == 30
    assert len(synced) == 1


def test_a_failed_sync_moves_nothing_into_place(target, store, monkeypatch):
    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(durability, "sync_file_system", broken)
    with session(ALICE) as files:
        outcome = restore_batch(store, files, stored(store, 10), target, overwrite=False)
    assert outcome.restored == []
    assert len(outcome.failed) == 10
    names = os.listdir(target + b"/run") if os.path.isdir(target + b"/run") else []
    assert [n for n in names if not n.endswith(b".nearline-partial")] == []


def test_restoring_asks_for_no_sync_per_file(target, store, monkeypatch):
    fsyncs: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: fsyncs.append(fd))
    with session(ALICE) as files:
        outcome = restore_batch(store, files, stored(store, 20), target, overwrite=False)
    assert len(outcome.restored) == 20
    assert fsyncs == []


def test_a_fill_that_raises_leaves_no_descriptor_open(target, store, monkeypatch):
    """A worker lives on after a sub-batch's failure: it keeps no file of it open."""

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug in the store")

    monkeypatch.setattr(store, "download_into", broken)
    before = set(os.listdir("/proc/self/fd"))
    with session(ALICE) as files, pytest.raises(RuntimeError):
        restore_batch(store, files, stored(store, 10), target, overwrite=False)
    assert set(os.listdir("/proc/self/fd")) <= before
