"""Packs on the real S3 server (D90): stored once, read back by range through every path
that reads a cache copy, whether our own requests or botocore's."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from domain.pack_keys import Slice, pack_key, slice_of
from nearline.settings import Settings
from stores.s3.object_store import ObjectStore, Stored
from stores.s3.source_files import Expected
from tests.integration.transfer.conftest import Transaction


def small_files(folder: Path, count: int) -> list[tuple[bytes, Expected]]:
    items = []
    for n in range(count):
        path = folder / f"f {n:03d}\n.dat"  # a space and a newline: keys never see them
        path.write_bytes(os.urandom(1000 + n))
        items.append((os.fsencode(path), Expected(1000 + n, path.stat().st_mtime_ns)))
    return items


def test_a_pack_is_one_object_and_each_slice_reads_back(
    settings: Settings, transaction: Transaction, tmp_path: Path, direct: bool
):
    items = small_files(tmp_path, 30)
    with ObjectStore(settings, direct=direct) as store:
        results = store.upload_packed(items, transaction.prefix, 20_000)
        assert all(isinstance(r, Stored) for r in results)
        packs = {slice_of(r.key).pack for r in results}  # type: ignore[union-attr]
        listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=transaction.prefix)
        assert {o["Key"] for o in listed["Contents"]} == packs and len(packs) == 2
        for (path, _), result in zip(items, results, strict=True):
            content = Path(os.fsdecode(path)).read_bytes()
            assert isinstance(result, Stored)
            assert result.sha256 == hashlib.sha256(content).hexdigest()
            found = store.get_small(result.key)  # archive-put's and carts' read
            assert found is not None and found[1] == content and found[0].metadata == {}
            target = tmp_path / "back"
            downloaded = store.download(
                result.key, os.fsencode(target), result.sha256, len(content)
            )
            assert isinstance(downloaded, Stored) and target.read_bytes() == content
        # A redelivered sub-batch finds its packs and sends nothing.
        again = store.upload_packed(items, transaction.prefix, 20_000)
        assert [r.key for r in again] == [r.key for r in results]  # type: ignore[union-attr]


def test_ranges_of_a_missing_or_short_object(
    settings: Settings, transaction: Transaction, direct: bool
):
    key = transaction.key(b"ten bytes")
    with ObjectStore(settings, direct=direct) as store:
        store.put_bytes(key, b"0123456789", hashlib.sha256(b"0123456789").hexdigest(), {})
        assert store.get_range(key, 2, 4) == b"234"
        assert store.get_range(key, 8, 20) == b"89"  # fewer: the caller sees it is short
        assert store.get_range(key, 10, 20) is None  # nothing there at all
        assert store.get_range(transaction.key(b"missing"), 0, 9) is None
        # Deleting by a slice key removes nothing: only the decider removes a pack.
        data = b"two files"
        pack = pack_key(transaction.prefix, hashlib.sha256(data).hexdigest())
        store.put_bytes(pack, data, hashlib.sha256(data).hexdigest(), {})
        store.delete(Slice(pack, 0, 3).key)
        assert store.delete_many([Slice(pack, 3, 6).key]) == []
        assert store.exists(pack)
