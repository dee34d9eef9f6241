"""Members read back from an aggregate by offset, verified, and put back in the cache."""

from __future__ import annotations

import os

import pytest

from stores.tape.aggregate import AggregateIndex, archive
from stores.tape.endpoint import ByteRange
from stores.tape.members import (
    TAPE_CORRUPT,
    MemberCorrupt,
    read_member,
    restore_members_to_cache,
)
from tests.unit.archive.fakes import FakeStore, FakeTape, cached_member
from tests.unit.archive.tars import HOLDING

PART = 64 * 1024  # small parts: the fake store takes them


def archived(store: FakeStore, tape: FakeTape, sizes: list[int]) -> AggregateIndex:
    members = [
        cached_member(store, i, b"/m/%02d" % i, os.urandom(size)) for i, size in enumerate(sizes)
    ]
    return archive(store, tape, HOLDING, members)  # type: ignore[arg-type]  # fakes


def content(store: FakeStore, file_id: int) -> bytes:
    return store.read(f"h1/t/{file_id}")


def corrupt(tape: FakeTape, name: str, at: int) -> None:
    data = bytearray(tape.files[name])
    data[at] ^= 0xFF
    tape.files[name] = bytes(data)


def test_a_member_is_read_by_its_range_only(store, tape):
    index = archived(store, tape, [10, 5000, 0, 123])

    for copy in index.members:
        tape.ranges.clear()
        assert b"".join(read_member(tape, index.name, copy)) == content(store, copy.file_id)
        assert tape.ranges == [(index.name, ByteRange(copy.offset, copy.size))]


def test_a_corrupt_member_is_never_served_whole(store, tape):
    index = archived(store, tape, [5000])
    [copy] = index.members
    corrupt(tape, index.name, copy.offset + 10)

    received = []
    with pytest.raises(MemberCorrupt, match=r"member 0 .* at \d+: read 5000 bytes"):
        for chunk in read_member(tape, index.name, copy):
            received.append(chunk)

    # The tape hands out 1000-byte chunks: the last one is held back.
    assert sum(map(len, received)) == 4000


def test_a_member_recorded_with_other_checksums_is_refused(store, tape):
    index = archived(store, tape, [300])
    [copy] = index.members
    wrong = type(copy)(**{**copy.__dict__, "adler32": "00000000"})

    with pytest.raises(MemberCorrupt, match="adler32 00000000"):
        list(read_member(tape, index.name, wrong))


def test_members_are_restored_to_the_cache_with_their_metadata(store, tape):
    index = archived(store, tape, [0, 10, PART, PART + 1, 3 * PART + 7])
    keys = {c.file_id: f"restored/{c.file_id}" for c in index.members}

    done = restore_members_to_cache(store, tape, index.name, index.members, keys, part_size=PART)

    assert sorted(done.restored) == [0, 1, 2, 3, 4] and done.failed == ()
    for copy in index.members:
        restored = store.client.objects[keys[copy.file_id]]
        assert store.read(keys[copy.file_id]) == content(store, copy.file_id)
        assert restored.metadata == {
            "size": str(copy.size),
            "adler32": copy.adler32,
            "sha256": copy.sha256,
        }
    # The aggregate was opened once, and only the members' ranges were read.
    assert tape.ranges == [(index.name, ByteRange(c.offset, c.size)) for c in index.members]


def test_a_corrupt_member_fails_alone_and_leaves_no_object(store, tape):
    index = archived(store, tape, [100, 3 * PART, 100])
    keys = {c.file_id: f"restored/{c.file_id}" for c in index.members}
    corrupt(tape, index.name, index.members[1].offset + 2 * PART + 5)  # in its last part

    done = restore_members_to_cache(store, tape, index.name, index.members, keys, part_size=PART)

    assert done.restored == (0, 2)
    assert done.failed == ((1, TAPE_CORRUPT),)
    assert keys[1] not in store.client.objects
    assert store.client.aborted == [keys[1]] and store.client.uploads == {}
    assert store.read(keys[2]) == content(store, 2)


def test_members_already_cached_are_not_read_again(store, tape):
    index = archived(store, tape, [100, 200])
    keys = {c.file_id: f"h1/t/{c.file_id}" for c in index.members}  # their original objects

    done = restore_members_to_cache(store, tape, index.name, index.members, keys)

    assert done.restored == (0, 1)
    assert tape.ranges == []


def test_an_object_that_is_not_the_member_is_replaced(store, tape):
    index = archived(store, tape, [100])
    [copy] = index.members
    store.put("h1/t/0", b"something else")

    restore_members_to_cache(store, tape, index.name, index.members, {0: "h1/t/0"})

    assert store.client.objects["h1/t/0"].metadata["sha256"] == copy.sha256
