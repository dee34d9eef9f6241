"""Uploads read a file only through a descriptor that the requester's own worker opened:
a file they cannot read is refused by the kernel, though the service could read it."""

from __future__ import annotations

import os

from stores.posix.requesters import Requester
from stores.posix.session import UserFiles
from stores.s3.source_files import Expected
from tests.integration.transfer.conftest import write

STRANGER = Requester(name="mallory", uid=23456, gids=frozenset({23456}), gid=23456)
OWNER = Requester(name="olive", uid=12345, gids=frozenset({12345}), gid=12345)


def _private_file(public_dir: bytes, name: bytes, data: bytes) -> tuple[bytes, Expected]:
    path = write(public_dir + b"/" + name, data)
    os.chown(path, OWNER.uid, OWNER.uid)
    os.chmod(path, 0o600)
    status = os.stat(path)
    return path, Expected(status.st_size, status.st_mtime_ns)


def test_a_file_the_requester_cannot_read_is_refused(store, transaction, public_dir):
    path, expected = _private_file(public_dir, b"someone-elses.dat", b"secret")
    with UserFiles(STRANGER, min_uid=1000) as files:
        result = store.upload(path, transaction.key(path), expected, files.open_for_reading)

    assert not hasattr(result, "sha256"), result
    assert "permission denied" in result.reason and not result.retryable
    assert not store.exists(transaction.key(path))


def test_a_small_file_the_requester_cannot_read_is_not_packed(store, transaction, public_dir):
    path, expected = _private_file(public_dir, b"small-secret.dat", b"secret")
    with UserFiles(STRANGER, min_uid=1000) as files:
        (result,) = store.upload_packed(
            [(path, expected)], transaction.prefix, 1 << 20, files.open_for_reading
        )
    assert "permission denied" in result.reason and not result.retryable


def test_the_owner_may_upload_their_file(store, transaction, public_dir):
    path, expected = _private_file(public_dir, b"own.dat", b"mine")
    with UserFiles(OWNER, min_uid=1000) as files:
        result = store.upload(path, transaction.key(path), expected, files.open_for_reading)
    assert result.sha256, result
