"""Packs (D90): slice keys, and small files read and stored together, each failing alone."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError

from domain.object_keys import object_key
from domain.pack_keys import Slice, pack_key, pack_of, slice_of
from stores.outcomes import Failure, Stored
from stores.s3.packs import upload_packed
from stores.s3.source_files import Expected

PACK = pack_key("h3/t1/", "cd" * 32)


def test_a_slice_key_names_its_pack_offset_and_size():
    part = Slice(PACK, 1536, 700)
    assert part.key == f"{PACK}#1536+700"
    assert slice_of(part.key) == part and pack_of(part.key) == PACK
    assert part.last == 2235


@pytest.mark.parametrize(
    "key",
    [
        object_key(3, "t1", b"/data/x#0+10"),  # a file's own key escapes "#" and "="
        object_key(3, "t1", b"/pack=" + b"ab" * 32),
        PACK,  # the pack itself
        f"{PACK}#01+10",  # no leading zeros
        f"{PACK}#0+0",  # empty files are never packed
        f"{PACK}#-1+10",
        "h3/t1/pack=short#0+10",
    ],
)
def test_other_keys_are_no_slices(key):
    assert slice_of(key) is None and pack_of(key) is None


class FakeStore:
    """Objects in a dict; ``down`` makes every request fail as an unreachable store."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0
        self.down = False
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes, sha256: str, metadata: dict[str, str]) -> str:
        if self.down:
            raise EndpointConnectionError(endpoint_url="http://s3")
        assert hashlib.sha256(data).hexdigest() == sha256 and metadata["size"] == str(len(data))
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.objects[key] = data
        self.puts += 1
        with self._lock:
            self.in_flight -= 1
        return "etag"

    def size_at(self, key: str) -> int | None:
        if self.down:
            raise EndpointConnectionError(endpoint_url="http://s3")
        return len(self.objects[key]) if key in self.objects else None

    def read(self, key: str) -> bytes:
        part = slice_of(key)
        assert part is not None
        return self.objects[part.pack][part.offset : part.last + 1]


def files(folder: Path, sizes: dict[str, int]) -> list[tuple[bytes, Expected]]:
    items = []
    for name, size in sizes.items():
        path = folder / name
        path.write_bytes(os.urandom(size))
        items.append((os.fsencode(path), Expected(size, path.stat().st_mtime_ns)))
    return items


def test_files_go_in_path_order_into_packs_of_the_target_size(tmp_path):
    store = FakeStore()
    items = files(tmp_path, {"c": 300, "a": 400, "b": 500, "d": 100})
    results = upload_packed(store.put, store.size_at, items, "h3/t1/", 1000)
    assert all(isinstance(r, Stored) for r in results)
    slices = {
        os.path.basename(path): slice_of(r.key) for (path, _), r in zip(items, results, strict=True)
    }
    # a, b in the first pack (a third file would pass 1000 bytes), c, d in the second.
    assert (slices[b"a"].offset, slices[b"b"].offset) == (0, 400)
    assert (slices[b"c"].offset, slices[b"d"].offset) == (0, 300)
    assert slices[b"a"].pack == slices[b"b"].pack != slices[b"c"].pack
    assert len(store.objects) == 2
    for (path, _), result in zip(items, results, strict=True):
        content = Path(os.fsdecode(path)).read_bytes()
        assert store.read(result.key) == content
        assert result.sha256 == hashlib.sha256(content).hexdigest() and result.size == len(content)
        assert slices[os.path.basename(path)].pack.startswith("h3/t1/pack=")


def test_a_file_that_cannot_be_read_fails_alone_and_a_rerun_sends_nothing(tmp_path):
    store = FakeStore()
    items = files(tmp_path, {"a": 10, "b": 20, "c": 30})
    (tmp_path / "b").unlink()
    results = upload_packed(store.put, store.size_at, items, "h3/t1/", 1 << 20)
    assert isinstance(results[1], Failure) and not results[1].retryable
    assert isinstance(results[0], Stored) and isinstance(results[2], Stored)
    assert slice_of(results[2].key) == Slice(slice_of(results[0].key).pack, 10, 30)
    # The same files again (a redelivered sub-batch): the same pack, found, not sent again.
    again = upload_packed(store.put, store.size_at, items, "h3/t1/", 1 << 20)
    assert [r.key for r in again if isinstance(r, Stored)] == [results[0].key, results[2].key]
    assert store.puts == 1


def test_a_store_that_is_down_fails_every_file_retryably(tmp_path):
    store = FakeStore()
    store.down = True
    results = upload_packed(store.put, store.size_at, files(tmp_path, {"a": 5}), "p/", 100)
    assert isinstance(results[0], Failure) and results[0].retryable


def test_packs_in_flight_are_bounded(tmp_path):
    store = FakeStore()
    items = files(tmp_path, {f"f{n:03d}": 100 for n in range(50)})
    results = upload_packed(store.put, store.size_at, items, "h3/t1/", 100)
    assert len(store.objects) == 50 and all(isinstance(r, Stored) for r in results)
    assert store.most_in_flight <= 2


def test_each_file_counts_in_the_tally_once_its_pack_is_stored_and_a_retry_does_not(tmp_path):
    from processors.progress import Progress

    store = FakeStore()
    items = files(tmp_path, {"a": 10, "b": 20, "c": 30})
    (tmp_path / "b").unlink()  # fails for good: done with
    progress = Progress(files_total=3, bytes_total=60)
    upload_packed(store.put, store.size_at, items, "h3/t1/", 1 << 20, tally=progress)
    assert progress.figures()["files_done"] == 3 and progress.figures()["bytes_done"] == 60
    store.down = True  # retryable: not done, the sub-batch will be tried again
    progress = Progress(files_total=1, bytes_total=5)
    upload_packed(store.put, store.size_at, files(tmp_path, {"d": 5}), "p/", 100, tally=progress)
    assert progress.figures()["files_done"] == 0
