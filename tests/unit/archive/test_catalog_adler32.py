"""An object read whole is checked by its sha256; the tar's adler32 is made of the catalog's
adler32s (D223), and bytes or a catalog that do not agree still fail only their member."""

from __future__ import annotations

import zlib
from dataclasses import replace

import pytest

from domain.pack_keys import slice_of
from stores.failures import CORRUPT
from stores.tape import cache_reading
from stores.tape.aggregate import archive
from tests.unit.archive.fakes import cached_member, lazy_member, packed_members
from tests.unit.archive.tars import HOLDING, build


def packed(store):
    return packed_members(store, [(i, b"/p/%d" % i, bytes([i]) * (700 * i)) for i in (1, 2, 3)])


def test_members_read_whole_are_not_summed_for_adler32(store, monkeypatch):
    members = [*packed(store), cached_member(store, 9, b"/q/9", b"nine" * 300)]

    def summed(self):
        raise AssertionError("the adler32 of a member read whole was summed")

    monkeypatch.setattr(cache_reading.WholeSums, "adler32", property(summed))
    data, index = build(store, members)

    assert not index.failed
    assert {c.file_id: c.adler32 for c in index.members} == {m.file_id: m.adler32 for m in members}
    assert index.adler32 == f"{zlib.adler32(data):08x}"


@pytest.mark.parametrize("where", ["pack", "object"])
def test_bytes_of_another_sha256_fail_alone_and_the_tar_is_written_in_one_pass(store, tape, where):
    members = packed(store)
    if where == "pack":
        pack = slice_of(members[1].object_key).pack  # type: ignore[union-attr]
        damaged = bytearray(store.read(pack))
        damaged[800] ^= 0xFF  # in member 2
        store.put(pack, bytes(damaged))
    else:  # same size and metadata, other bytes
        members[1] = cached_member(store, 2, b"/p/2", bytes([2]) * 1400)
        store.client.objects[members[1].object_key].data = b"X" * 1400

    index = archive(store, tape, HOLDING, members)

    assert index.failed == ((2, CORRUPT),)
    assert [c.file_id for c in index.members] == [1, 3]
    assert f"{zlib.adler32(tape.files[index.name]):08x}" == index.adler32
    # The bad member's adler32 was summed from its bytes: the server agreed the first time.
    assert len(store.ranges) + len(store.client.gets) == (1 if where == "pack" else 3)


def test_a_catalog_adler32_not_of_its_content_fails_that_member_alone(store, tape):
    members = packed(store)
    members[1] = replace(members[1], adler32="0badcafe")  # the sha256 is still right

    index = archive(store, tape, HOLDING, members)

    # The server's adler32 told the tar written first from the one made again, every
    # member's adler32 summed: only the member whose adler32 is not its bytes' failed.
    assert index.failed == ((2, CORRUPT),)
    assert [c.file_id for c in index.members] == [1, 3]
    assert f"{zlib.adler32(tape.files[index.name]):08x}" == index.adler32
    assert len(store.ranges) == 2


def test_a_streamed_member_of_a_wrong_catalog_adler32_fails_alone(store, tape):
    big = lazy_member(store, 5, b"/big", cache_reading.SMALL_OBJECT + 1000)
    del store.client.objects[big.object_key].metadata["adler32"]  # as if never recorded
    members = [replace(big, adler32="0badcafe"), cached_member(store, 6, b"/small", b"s" * 10)]

    index = archive(store, tape, HOLDING, members)

    assert index.failed == ((5, CORRUPT),)
    assert [c.file_id for c in index.members] == [6]
    assert f"{zlib.adler32(tape.files[index.name]):08x}" == index.adler32


def test_a_streamed_member_of_other_bytes_fails_alone(store, tape):
    size = cache_reading.SMALL_OBJECT + 1000
    big = cached_member(store, 5, b"/big", b"b" * size)
    store.client.objects[big.object_key].data = b"X" * size  # same size and metadata
    members = [big, cached_member(store, 6, b"/small", b"s" * 10)]

    index = archive(store, tape, HOLDING, members)

    # Its adler32 was not summed as it streamed: the tar was made again, summing it.
    assert index.failed == ((5, CORRUPT),)
    assert [c.file_id for c in index.members] == [6]
    assert f"{zlib.adler32(tape.files[index.name]):08x}" == index.adler32
    assert store.client.gets.count(big.object_key) == 2
