"""Small bodies gathered into packs: concurrent ones share a pack, each a slice of it at
its offset; a pack is deleted once every member settled and none was cataloged."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from api.pacifica.archive.packing import Packer
from domain.pack_keys import slice_of


class Store:
    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail = fail

    def put(self, key: str, data: bytes, sha256: str) -> None:
        if self.fail:
            raise OSError("store away")
        assert hashlib.sha256(data).hexdigest() == sha256
        self.objects[key] = data

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


def test_bodies_arriving_together_share_one_pack_each_at_its_offset() -> None:
    store = Store()
    packer = Packer(store.put, store.delete, target_bytes=1 << 20, window_s=0.05)
    bodies = [bytes([n]) * (100 + n) for n in range(8)]

    async def run() -> list:
        return await asyncio.gather(*(packer.add(7, body) for body in bodies))

    slices = asyncio.run(run())
    assert len({s.pack for s in slices}) == 1
    [pack] = store.objects.values()
    for part, body in zip(slices, bodies, strict=True):
        assert pack[part.offset : part.offset + part.size] == body
        assert slice_of(part.key) == part
        assert part.pack.startswith("h7/pack-")


def test_a_pack_reaching_its_target_is_written_at_once() -> None:
    store = Store()
    packer = Packer(store.put, store.delete, target_bytes=1000, window_s=30)

    async def run() -> list:
        return await asyncio.wait_for(
            asyncio.gather(packer.add(1, b"a" * 600), packer.add(1, b"b" * 600)), 5
        )

    slices = asyncio.run(run())
    assert len(store.objects) == 1 and slices[1].offset == 600


def test_a_pack_none_of_whose_files_was_cataloged_is_deleted_and_only_then() -> None:
    store = Store()
    packer = Packer(store.put, store.delete, target_bytes=1 << 20, window_s=0.01)

    async def run(outcomes: list[bool | None]) -> bool:
        slices = await asyncio.gather(*(packer.add(1, b"x" * 10) for _ in outcomes))
        for part, cataloged in zip(slices, outcomes, strict=True):
            await packer.settled(part, cataloged)
        return slices[0].pack in store.objects

    assert asyncio.run(run([False, False, False])) is False
    assert asyncio.run(run([False, True, False])) is True
    assert asyncio.run(run([False, None])) is True  # an unknown outcome keeps it


def test_a_pack_the_store_refuses_fails_each_member() -> None:
    packer = Packer(Store(fail=True).put, Store().delete, target_bytes=1 << 20, window_s=0.01)

    async def run() -> None:
        await packer.add(1, b"x")

    with pytest.raises(OSError):
        asyncio.run(run())
