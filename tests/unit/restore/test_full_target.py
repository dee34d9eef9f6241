"""A target that is full, over quota or read-only fails the GET's files at once, for the
user to act on: it is not an outage of the store, to be retried while others wait."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from processors.transfer_get.restoring import restore_batch

from .conftest import ALICE, ALICE_UID, FakeStore, file_entry, needs_root, session

pytestmark = needs_root

FILES = 40
SIZE = 16 * 1024  # 40 files of 16 KiB into 64 KiB: most cannot fit


@pytest.fixture
def small_disk(public_dir: bytes) -> Iterator[bytes]:
    """A 64 KiB file system of alice's (tmpfs), mounted for the test."""
    where = public_dir + b"/small"
    os.mkdir(where)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", where])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    os.chown(where, ALICE_UID, ALICE_UID)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", where], check=True)


def selected(store: FakeStore) -> list:
    """FILES entries of SIZE bytes each, stored, as a GET's sub-batch lists them."""
    chosen = []
    for i in range(FILES):
        data = os.urandom(SIZE)
        entry = store.put(file_entry(b"/run/f%02d" % i, data), data)
        chosen.append({**entry, "file_id": i, "holding_id": 1})
    return chosen


def test_a_full_target_fails_the_rest_at_once_and_for_good(small_disk, store):
    with session(ALICE) as files:
        outcome = restore_batch(store, files, selected(store), small_disk, overwrite=False)

    assert outcome.restored, "some files fit"
    assert outcome.failed, "not all files fit"
    assert {f["reason"] for f in outcome.failed} == {
        "the target file system cannot take it: No space left on device"
    }
    assert outcome.retryable() == set()  # the user's to fix: no retry holds others up
    # Once full, the others fail without being fetched from the store.
    assert len(store.downloads) < FILES
    leftovers = [n for n in os.listdir(small_disk + b"/run") if n.endswith(b".nearline-partial")]
    assert leftovers == []


def test_a_read_only_target_fails_every_file_for_good(small_disk, store):
    subprocess.run(["mount", "-o", "remount,ro", small_disk], check=True)
    with session(ALICE) as files:
        outcome = restore_batch(store, files, selected(store), small_disk, overwrite=False)

    assert outcome.restored == []
    assert len(outcome.failed) == FILES
    assert all("Read-only file system" in f["reason"] for f in outcome.failed)
    assert outcome.retryable() == set()
    assert store.downloads == []
