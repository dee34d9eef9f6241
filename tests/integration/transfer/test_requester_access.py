"""Uploads read a file only if the requesting user may: a path swapped after indexing
for one that reaches another user's file is refused, though the service could read it."""

from __future__ import annotations

import os

from processors.indexing.access import Requester
from processors.transfer.source_files import Expected
from tests.integration.transfer.conftest import write


def test_a_file_the_requester_cannot_read_is_refused(store, transaction, tmp_path):
    path = write(os.fsencode(tmp_path / "someone-elses.dat"), b"secret")
    os.chown(path, 12345, 12345)
    os.chmod(path, 0o600)
    status = os.stat(path)
    stranger = Requester(name="mallory", uid=23456, gids=frozenset({23456}))
    expected = Expected(status.st_size, status.st_mtime_ns, readable_by=stranger)

    result = store.upload(path, transaction.key(path), expected)

    assert not hasattr(result, "sha256"), result
    assert "permission denied" in result.reason and not result.retryable
    assert not store.exists(transaction.key(path))


def test_the_owner_may_upload_their_file(store, transaction, tmp_path):
    path = write(os.fsencode(tmp_path / "own.dat"), b"mine")
    os.chown(path, 12345, 12345)
    os.chmod(path, 0o600)
    status = os.stat(path)
    owner = Requester(name="olive", uid=12345, gids=frozenset({12345}))
    result = store.upload(
        path, transaction.key(path), Expected(status.st_size, status.st_mtime_ns, readable_by=owner)
    )
    assert result.sha256, result
