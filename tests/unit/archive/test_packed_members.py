"""Members stored as slices of packs (D90): read a run at a time, each still failing alone."""

from __future__ import annotations

import io
import tarfile

from domain.pack_keys import slice_of
from stores.failures import CORRUPT, NOT_IN_STORE
from stores.tape import cache_reading
from stores.tape.cache_reading import SHORT_PACK
from tests.unit.archive.fakes import cached_member, packed_members
from tests.unit.archive.tars import build, tarfile_name


def contents(data: bytes) -> dict[bytes, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return {
            tarfile_name(info): tar.extractfile(info).read()  # type: ignore[union-attr]
            for info in tar.getmembers()
        }


def files(first_id: int, count: int, size: int) -> list[tuple[int, bytes, bytes]]:
    return [(i, b"/p/%04d" % i, bytes([i % 251]) * size) for i in range(first_id, first_id + count)]


def test_a_pack_is_read_in_few_range_requests_and_its_members_indexed(store, monkeypatch):
    monkeypatch.setattr(cache_reading, "RUN_BYTES", 64 * 1024)
    made = files(1, 40, 5000)
    packed = packed_members(store, made)  # 200,000 bytes: 4 runs of 64 KiB
    alone = cached_member(store, 99, b"/p/zz", b"alone" * 10)
    data, index = build(store, [*packed, alone])
    assert not index.failed
    assert len(store.ranges) == 4
    assert contents(data) == {
        **{m.path.lstrip(b"/"): bytes([m.file_id % 251]) * 5000 for m in packed},
        b"p/zz": b"alone" * 10,
    }
    # Each member's recorded offset is where its bytes are in the tar.
    expected = {file_id: content for file_id, _, content in made} | {99: b"alone" * 10}
    for copy in index.members:
        assert data[copy.offset : copy.offset + copy.size] == expected[copy.file_id]


def test_a_missing_pack_fails_its_members_alone(store):
    packed = packed_members(store, files(1, 3, 100))
    alone = cached_member(store, 99, b"/p/zz", b"x" * 10)
    del store.client.objects[slice_of(packed[0].object_key).pack]  # type: ignore[union-attr]
    data, index = build(store, [*packed, alone])
    assert sorted(index.failed) == [(1, NOT_IN_STORE), (2, NOT_IN_STORE), (3, NOT_IN_STORE)]
    assert [m.file_id for m in index.members] == [99]
    assert list(contents(data)) == [b"p/zz"]


def test_a_damaged_slice_fails_alone_and_a_short_pack_fails_what_it_lacks(store):
    packed = packed_members(store, files(1, 3, 100))
    pack = slice_of(packed[0].object_key).pack  # type: ignore[union-attr]
    damaged = bytearray(store.read(pack))
    damaged[150] ^= 0xFF  # in member 2
    store.put(pack, bytes(damaged))
    _, index = build(store, packed)
    assert index.failed == ((2, CORRUPT),)
    assert [m.file_id for m in index.members] == [1, 3]
    store.put(pack, bytes(damaged[:250]))  # cut short within member 3
    _, index = build(store, packed)
    assert index.failed == ((2, CORRUPT), (3, SHORT_PACK))
