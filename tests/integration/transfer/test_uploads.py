"""Uploads into the real S3 server: each file read once, verified, and stored only once."""

from __future__ import annotations

import errno
import hashlib
import os
import zlib
from typing import Any

import pytest

from domain.object_keys import path_of_key
from nearline.settings import Settings
from stores.checksums import file_checksums
from stores.failures import GONE
from stores.s3.direct_s3 import DirectS3
from stores.s3.object_store import Expected, Failure, ObjectStore, Stored
from stores.s3.source_files import CHANGED, SourceFile
from tests.integration.transfer.conftest import PART_SIZE, Transaction, expected_of, read, write


def object_bytes(store: ObjectStore, key: str) -> bytes:
    return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()


def head(store: ObjectStore, key: str) -> dict[str, Any]:
    return dict(store.client.head_object(Bucket=store.bucket, Key=key))


def assert_stored(result: Stored | Failure, path: bytes, store: ObjectStore) -> Stored:
    assert isinstance(result, Stored), result
    data = read(path)
    assert result.size == len(data)
    assert result.adler32 == f"{zlib.adler32(data):08x}"
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert object_bytes(store, result.key) == data
    metadata = head(store, result.key)["Metadata"]
    assert metadata == {
        "size": str(len(data)),
        "mtime-ns": str(os.stat(path).st_mtime_ns),
        "adler32": result.adler32,
        "sha256": result.sha256,
    }
    return result


class PutCounter:
    """Counts object-writing requests, through botocore and through DirectS3."""

    WRITES = (
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "CopyObject",
    )

    def __init__(self, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.requests: list[str] = []
        store.client.meta.events.register("before-call.s3", self._botocore)
        original = DirectS3.put

        def put(direct: DirectS3, *args: Any, **kwargs: Any) -> str:
            self.requests.append("PutObject (direct)")
            return original(direct, *args, **kwargs)

        monkeypatch.setattr(DirectS3, "put", put)

    def _botocore(self, model: Any, **kwargs: Any) -> None:
        if model.name in self.WRITES:
            self.requests.append(model.name)


def test_small_file(settings: Settings, transaction: Transaction, tmp_path, direct):
    path = write(bytes(tmp_path / "small.dat"), os.urandom(10_000))
    with ObjectStore(settings, direct=direct) as store:
        result = assert_stored(
            store.upload(path, transaction.key(path), expected_of(path)), path, store
        )
        assert not result.reused
        assert result.etag == hashlib.md5(read(path)).hexdigest()
        assert result.etag == head(store, result.key)["ETag"].strip('"')


def test_empty_file(settings: Settings, transaction: Transaction, tmp_path, direct):
    path = write(bytes(tmp_path / "empty"), b"")
    with ObjectStore(settings, direct=direct) as store:
        result = assert_stored(
            store.upload(path, transaction.key(path), expected_of(path)), path, store
        )
    assert (result.size, result.adler32) == (0, "00000001")


def test_large_file_is_read_once_in_order_while_sent_in_parts(
    parts_store: ObjectStore, transaction: Transaction, tmp_path, monkeypatch
):
    data = os.urandom(40 * 1024 * 1024)
    path = write(bytes(tmp_path / "large"), data)
    reads: list[tuple[int, int]] = []
    original = SourceFile.read

    def spy(source: SourceFile, amount: int) -> bytes:
        start = source.bytes_read
        chunk = original(source, amount)
        reads.append((start, len(chunk)))
        return chunk

    monkeypatch.setattr(SourceFile, "read", spy)
    result = parts_store.upload(path, transaction.key(path), expected_of(path))

    assert isinstance(result, Stored), result
    # One sequential pass: every read starts where the previous one ended, no byte twice.
    position = 0
    for start, length in reads:
        assert start == position
        position += length
    assert position == len(data)
    # The checksums computed on the way equal an independent computation.
    assert {"adler32": result.adler32, "sha256": result.sha256} == file_checksums(path)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.etag.endswith(f"-{len(data) // PART_SIZE}")  # really multipart
    assert_stored(result, path, parts_store)


@pytest.mark.parametrize(
    "name",
    [
        b"with spaces",
        b"new\nline",
        b"latin1-\xe9\xff",
        b"100% done",
        b"tab\tand\x01control",
        "\u4e2d\u6587 \U0001f600".encode(),
        b"..dots..",
        b"=equals&plus+",
    ],
)
def test_awkward_names(store: ObjectStore, transaction: Transaction, tmp_path, name: bytes):
    folder = bytes(tmp_path) + b"/sub dir \xfe"
    os.mkdir(folder)
    path = write(folder + b"/" + name, b"content of " + name)
    key = transaction.key(path)
    assert path_of_key(key) == path
    assert_stored(store.upload(path, key, expected_of(path)), path, store)
    back = bytes(tmp_path) + b"/back"
    result = store.download(key, back, file_checksums(path)["sha256"], os.path.getsize(path))
    assert isinstance(result, Stored), result
    assert read(back) == b"content of " + name


def test_long_path_is_stored_under_its_hash(store: ObjectStore, transaction: Transaction, tmp_path):
    folder = bytes(tmp_path)
    for level in range(5):
        folder += b"/" + bytes([ord("a") + level]) * 200
        os.mkdir(folder)
    path = write(folder + b"/file", b"deep")
    key = transaction.key(path)
    assert path_of_key(key) is None and "/sha256=" in key
    assert_stored(store.upload(path, key, expected_of(path)), path, store)


@pytest.mark.parametrize("size", [4096, 12 * 1024 * 1024], ids=["single-put", "multipart"])
def test_upload_again_reuses_the_object_without_sending(
    parts_settings: Settings, transaction: Transaction, tmp_path, monkeypatch, direct, size
):
    path = write(bytes(tmp_path / "again"), os.urandom(size))
    with ObjectStore(parts_settings, direct=direct) as store:
        first = store.upload(path, transaction.key(path), expected_of(path))
        assert isinstance(first, Stored) and not first.reused, first
        modified = head(store, first.key)["LastModified"]
        sent = PutCounter(store, monkeypatch)

        second = store.upload(path, transaction.key(path), expected_of(path))

        assert sent.requests == []
        assert second == Stored(
            first.key, first.size, first.adler32, first.sha256, first.etag, reused=True
        )
        assert head(store, first.key)["LastModified"] == modified


def test_an_object_without_recorded_checksums_is_uploaded_again(
    store: ObjectStore, transaction: Transaction, tmp_path, monkeypatch
):
    # What an upload interrupted between completing its parts and recording the checksums
    # leaves behind: the right size and mtime, no checksums (and here, wrong bytes).
    path = write(bytes(tmp_path / "f"), b"the real content")
    expected = expected_of(path)
    key = transaction.key(path)
    store.client.put_object(
        Bucket=store.bucket,
        Key=key,
        Body=b"x" * expected.size,
        Metadata={"size": str(expected.size), "mtime-ns": str(expected.mtime_ns)},
    )
    sent = PutCounter(store, monkeypatch)
    result = assert_stored(store.upload(path, key, expected), path, store)
    assert not result.reused and sent.requests


def test_an_object_of_another_version_is_replaced(
    store: ObjectStore, transaction: Transaction, tmp_path
):
    path = write(bytes(tmp_path / "f"), b"version one")
    key = transaction.key(path)
    assert isinstance(store.upload(path, key, expected_of(path)), Stored)
    write(path, b"version two")
    os.utime(path, ns=(1, 1))
    result = assert_stored(store.upload(path, key, expected_of(path)), path, store)
    assert not result.reused


def test_file_changed_since_it_was_indexed(store: ObjectStore, transaction: Transaction, tmp_path):
    path = write(bytes(tmp_path / "f"), b"indexed")
    expected = expected_of(path)
    with open(path, "ab") as f:
        f.write(b" and then appended")
    result = store.upload(path, transaction.key(path), expected)
    assert result == Failure(CHANGED, retryable=False)
    assert not store.exists(transaction.key(path))


def test_small_file_modified_while_read(
    store: ObjectStore, transaction: Transaction, tmp_path, monkeypatch
):
    path = write(bytes(tmp_path / "f"), os.urandom(50_000))
    original = SourceFile.read

    def read_then_append(source: SourceFile, amount: int) -> bytes:
        data = original(source, amount)
        with open(path, "ab") as f:
            f.write(b"written by someone else")
        return data

    monkeypatch.setattr(SourceFile, "read", read_then_append)
    result = store.upload(path, transaction.key(path), expected_of(path))
    assert result == Failure(CHANGED, retryable=False)
    assert not store.exists(transaction.key(path))


def test_large_file_modified_during_upload_leaves_nothing(
    parts_store: ObjectStore, transaction: Transaction, tmp_path, monkeypatch
):
    path = write(bytes(tmp_path / "growing"), os.urandom(4 * PART_SIZE))
    key = transaction.key(path)
    original = SourceFile.read
    calls: list[int] = []

    def read_and_append_after_two_parts(source: SourceFile, amount: int) -> bytes:
        data = original(source, amount)
        calls.append(len(data))
        if len(calls) == 2:  # parts are on their way: someone appends to the file
            with open(path, "ab") as f:
                f.write(b"appended while uploading")
        return data

    monkeypatch.setattr(SourceFile, "read", read_and_append_after_two_parts)
    result = parts_store.upload(path, key, expected_of(path))

    assert result == Failure(CHANGED, retryable=False)
    assert len(calls) >= 4  # the change showed at the end of the file, after parts were sent
    assert not parts_store.exists(key)
    client = parts_store.client
    pending = client.list_multipart_uploads(Bucket=parts_store.bucket, Prefix=key)
    assert pending.get("Uploads", []) == []  # the multipart upload was aborted


def test_missing_file(store: ObjectStore, transaction: Transaction, tmp_path):
    path = bytes(tmp_path / "gone")
    result = store.upload(path, transaction.key(path), Expected(10, 1))
    assert result == Failure(GONE, retryable=False)


def test_unreadable_file(store: ObjectStore, transaction: Transaction, tmp_path, monkeypatch):
    path = write(bytes(tmp_path / "secret"), b"no access")
    real_open = os.open

    def open_refused(name: Any, *args: Any, **kwargs: Any) -> int:
        if name == path:  # tests run as root, which chmod cannot keep out
            raise PermissionError(errno.EACCES, "Permission denied", name)
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_refused)
    result = store.upload(path, transaction.key(path), expected_of(path))
    assert isinstance(result, Failure) and not result.retryable
    assert "permission denied" in result.reason
