"""Many files at once: results in input order, one request per small file, re-runs reuse."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from nearline.settings import Settings
from stores.checksums import file_checksums
from stores.failures import GONE
from stores.s3.object_store import Expected, Failure, ObjectStore, Stored
from stores.s3.source_files import CHANGED
from tests.integration.transfer.conftest import PART_SIZE, Transaction, expected_of, write


def small_files(folder: bytes, count: int) -> list[bytes]:
    return [write(folder + b"/f%04d" % i, os.urandom(4096)) for i in range(count)]


def count_botocore_requests(store: ObjectStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    lock = threading.Lock()  # uploads run on 16 threads; a bare += loses counts

    def count(model: Any, **kwargs: Any) -> None:
        with lock:
            counts[model.name] = counts.get(model.name, 0) + 1

    store.client.meta.events.register("before-call.s3", count)
    return counts


def test_500_small_files(settings: Settings, transaction: Transaction, tmp_path, direct):
    paths = small_files(bytes(tmp_path), 500)
    items = [(path, transaction.key(path), expected_of(path)) for path in paths]
    with ObjectStore(settings, direct=direct) as store:
        requests = count_botocore_requests(store)
        results = store.upload_many(items, concurrency=16)

        assert [r.key for r in results if isinstance(r, Stored)] == [key for _, key, _ in items]
        for path, result in zip(paths, results, strict=True):
            assert isinstance(result, Stored) and not result.reused
            assert {"adler32": result.adler32, "sha256": result.sha256} == file_checksums(path)
        # One listing instead of a probe per file; with botocore, one PUT per file.
        assert requests.get("HeadObject", 0) == 0
        assert requests.get("PutObject", 0) == (0 if direct else 500)
        listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=transaction.prefix)
        assert listed["KeyCount"] == 500

        again = store.upload_many(items, concurrency=16)
        assert all(isinstance(r, Stored) and r.reused for r in again)
        assert [(r.key, r.sha256) for r in again] == [(r.key, r.sha256) for r in results]


def test_order_is_kept_and_each_failure_reported(
    parts_settings: Settings, transaction: Transaction, tmp_path
):
    folder = bytes(tmp_path)
    good = small_files(folder, 20)
    large = write(folder + b"/large", os.urandom(3 * PART_SIZE + 1))
    changed = write(folder + b"/changed", b"before")
    changed_expected = expected_of(changed)
    write(changed, b"after, and longer")
    missing = folder + b"/missing"
    items = [(path, transaction.key(path), expected_of(path)) for path in good]
    items.insert(3, (missing, transaction.key(missing), Expected(4096, 1)))
    items.insert(7, (large, transaction.key(large), expected_of(large)))
    items.insert(11, (changed, transaction.key(changed), changed_expected))

    with ObjectStore(parts_settings) as store:
        results = store.upload_many(items, concurrency=8)

    assert len(results) == len(items)
    assert results[3] == Failure(GONE, retryable=False)
    assert results[11] == Failure(CHANGED, retryable=False)
    for index, (path, key, _) in enumerate(items):
        if index in (3, 11):
            continue
        result = results[index]
        assert isinstance(result, Stored) and result.key == key
        assert result.sha256 == file_checksums(path)["sha256"]


def test_empty_batch(store: ObjectStore):
    assert store.upload_many([], concurrency=4) == []


@pytest.mark.parametrize("concurrency", [1, 64])
def test_any_concurrency(store: ObjectStore, transaction: Transaction, tmp_path, concurrency):
    paths = small_files(bytes(tmp_path), 12)
    results = store.upload_many(
        [(p, transaction.key(p), expected_of(p)) for p in paths], concurrency=concurrency
    )
    assert all(isinstance(r, Stored) for r in results)
