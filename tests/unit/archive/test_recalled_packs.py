"""Members put back into the cache in packs (D180): one PUT per pack, no HEAD, slice keys
that read back as the members; large members as objects of their own; a corrupt member
fails alone and is in no pack."""

from __future__ import annotations

import os

from domain.pack_keys import slice_of
from stores.tape.aggregate import AggregateIndex, archive
from stores.tape.members import TAPE_CORRUPT
from stores.tape.packed_restore import Packing, restore_packed
from tests.unit.archive.fakes import FakeStore, FakeTape, cached_member
from tests.unit.archive.tars import HOLDING

PACKING = Packing("h1/get-1/", below=1000, target=2500)


def archived(store: FakeStore, tape: FakeTape, sizes: list[int]) -> AggregateIndex:
    members = [
        cached_member(store, i, b"/m/%02d" % i, os.urandom(size)) for i, size in enumerate(sizes)
    ]
    return archive(store, tape, HOLDING, members)  # type: ignore[arg-type]  # fakes


def restore(store: FakeStore, tape: FakeTape, index: AggregateIndex):
    keys = {c.file_id: f"restored/{c.file_id}" for c in index.members}
    before = set(store.client.objects)
    done = restore_packed(store, tape, index.name, index.members, keys, PACKING)  # type: ignore[arg-type]
    return done, keys, set(store.client.objects) - before


def test_small_members_go_back_in_packs_one_put_each_and_read_back_as_slices(store, tape):
    index = archived(store, tape, [600] * 8 + [5000, 0])
    originals = {i: store.read(f"h1/t/{i}") for i in range(10)}
    store.client.heads.clear()

    done, keys, made = restore(store, tape, index)

    assert done.failed == () and sorted(done.keys) == list(range(10))
    packs = {slice_of(done.keys[i]).pack for i in range(8)}  # type: ignore[union-attr]
    assert len(packs) == 2 and packs == {m for m in made if "pack=" in m}  # 8 x 600 B: 4 + 4
    assert made == packs | {keys[8], keys[9]}  # the large and the empty one alone
    assert store.client.heads == []  # nothing asked of the cache first
    for i in range(8):
        part = slice_of(done.keys[i])
        assert part is not None and part.pack.startswith(PACKING.prefix)
        data = store.read(part.pack)[part.offset : part.offset + part.size]
        assert data == originals[i]
    assert store.read(keys[8]) == originals[8] and done.keys[8] == keys[8]


def test_a_corrupt_small_member_fails_alone_and_is_in_no_pack(store, tape):
    index = archived(store, tape, [600, 600, 600])
    data = bytearray(tape.files[index.name])
    data[index.members[1].offset + 3] ^= 0xFF
    tape.files[index.name] = bytes(data)

    done, _keys, made = restore(store, tape, index)

    assert done.failed == ((1, TAPE_CORRUPT),) and sorted(done.keys) == [0, 2]
    (pack,) = made
    assert store.client.objects[pack].size == 1200


def test_the_same_members_make_the_same_pack_under_the_same_key(store, tape):
    index = archived(store, tape, [600, 700])
    first, _, _ = restore(store, tape, index)
    again, _, made = restore(store, tape, index)
    assert again.keys == first.keys and made == set()


def test_a_large_member_sent_in_parts_at_once_is_whole_and_in_order(store, tape):
    part = 64 * 1024
    index = archived(store, tape, [9 * part + 17])
    original = store.read("h1/t/0")
    keys = {0: "restored/0"}
    done = restore_packed(store, tape, index.name, index.members, keys, PACKING, part_size=part)  # type: ignore[arg-type]
    assert done.keys == keys and store.read("restored/0") == original
