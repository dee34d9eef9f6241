"""Downloads land only verified content in place, and never leave partial or bad files."""

from __future__ import annotations

import os

import pytest

from stores.checksums import file_checksums
from stores.failures import CORRUPT, NOT_IN_STORE
from stores.s3.object_store import Failure, ObjectStore, Stored
from tests.integration.transfer.conftest import PART_SIZE, Transaction, expected_of, read, write


def uploaded(store: ObjectStore, transaction: Transaction, path: bytes) -> Stored:
    result = store.upload(path, transaction.key(path), expected_of(path))
    assert isinstance(result, Stored), result
    return result


@pytest.mark.parametrize("size", [0, 70_000, 3 * PART_SIZE + 123])
def test_download_verifies_and_renames_into_place(
    parts_store: ObjectStore, transaction: Transaction, tmp_path, size
):
    source = write(bytes(tmp_path / "source"), os.urandom(size))
    stored = uploaded(parts_store, transaction, source)
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    target = bytes(restored_dir / "file")

    result = parts_store.download(stored.key, target, stored.sha256, stored.size)

    assert isinstance(result, Stored), result
    assert (result.sha256, result.size) == (stored.sha256, size)
    assert result.adler32 == ""  # a restore checks the sha256 only (D221)
    assert read(target) == read(source)
    assert os.listdir(restored_dir) == ["file"]  # no partial file left


@pytest.mark.parametrize("replacement", ["same size", "shorter", "longer"])
def test_corrupt_object_is_refused_and_leaves_no_file(
    store: ObjectStore, transaction: Transaction, tmp_path, replacement
):
    data = os.urandom(10_000)
    stored = uploaded(store, transaction, write(bytes(tmp_path / "source"), data))
    bad = {"same size": os.urandom(10_000), "shorter": data[:-1], "longer": data + b"!"}
    store.client.put_object(Bucket=store.bucket, Key=stored.key, Body=bad[replacement])
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()

    result = store.download(stored.key, bytes(restored_dir / "file"), stored.sha256, stored.size)

    assert result == Failure(CORRUPT, retryable=False)
    assert os.listdir(restored_dir) == []


def test_a_failed_download_keeps_the_existing_file(
    store: ObjectStore, transaction: Transaction, tmp_path
):
    stored = uploaded(store, transaction, write(bytes(tmp_path / "source"), b"original"))
    store.client.put_object(Bucket=store.bucket, Key=stored.key, Body=b"tampered")
    target = write(bytes(tmp_path / "target"), b"what was there before")
    result = store.download(stored.key, target, stored.sha256, stored.size)
    assert result == Failure(CORRUPT, retryable=False)
    assert read(target) == b"what was there before"
    assert sorted(os.listdir(tmp_path)) == ["source", "target"]


def test_a_successful_download_replaces_the_existing_file(
    store: ObjectStore, transaction: Transaction, tmp_path
):
    source = write(bytes(tmp_path / "source"), b"stored content")
    stored = uploaded(store, transaction, source)
    target = write(bytes(tmp_path / "target"), b"old")
    result = store.download(stored.key, target, stored.sha256, stored.size)
    assert isinstance(result, Stored)
    assert read(target) == b"stored content"
    assert file_checksums(target)["sha256"] == stored.sha256


def test_missing_object(store: ObjectStore, transaction: Transaction, tmp_path):
    target = bytes(tmp_path / "target")
    result = store.download(transaction.key(b"never-stored"), target, "0" * 64, 1)
    assert result == Failure(NOT_IN_STORE, retryable=False)
    assert os.listdir(tmp_path) == []


def test_missing_target_folder(store: ObjectStore, transaction: Transaction, tmp_path):
    stored = uploaded(store, transaction, write(bytes(tmp_path / "source"), b"content"))
    result = store.download(
        stored.key, bytes(tmp_path / "no" / "such" / "dir" / "file"), stored.sha256, stored.size
    )
    assert isinstance(result, Failure) and not result.retryable
    assert "directory" in result.reason


def test_weird_target_names(store: ObjectStore, transaction: Transaction, tmp_path):
    stored = uploaded(store, transaction, write(bytes(tmp_path / "source"), b"content"))
    target = bytes(tmp_path) + b"/new\nline \xff" + b"n" * 240  # near NAME_MAX
    result = store.download(stored.key, target, stored.sha256, stored.size)
    assert isinstance(result, Stored), result
    assert read(target) == b"content"
