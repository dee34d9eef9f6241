"""Evicting files from the disk buffer: they go OFFLINE, and reading them needs a stage."""

from __future__ import annotations

import os
import zlib

import pytest

from stack import xrootd
from stores.tape.endpoint import TapeOffline
from tests.integration.tape.helpers import archived, eventually


def test_a_purged_file_is_offline_and_cannot_be_read(settings, endpoint, folder):
    data = os.urandom(100_000)
    path = f"{folder}/cold.tar"
    endpoint.write(path, [data])
    archived(endpoint, path)

    evicted = xrootd.purge_buffer(settings, f"{endpoint.root}/{path}")

    assert evicted == [f"{endpoint.root}/{path}"]
    state = endpoint.stat(path)
    assert (state.size, state.online, state.on_tape) == (len(data), False, True)
    with pytest.raises(TapeOffline, match="stage it first"):
        endpoint.read_range(path, 0, 10)
    # The checksum of a file only on tape is the one recorded when it was migrated.
    assert endpoint.checksum(path) == f"{zlib.adler32(data):08x}"


def test_a_file_not_yet_on_tape_is_not_purged(settings, endpoint, folder):
    from XRootD import client
    from XRootD.client.flags import OpenFlags

    path = f"{endpoint.root}/{folder}/still-writing.tar"
    handle = client.File()
    # Open and unclosed (persist-on-close pending): the drive must not migrate it yet.
    status, _ = handle.open(
        endpoint.url + path, OpenFlags.NEW | OpenFlags.MAKEPATH | OpenFlags.POSC
    )
    assert status.ok, status.message
    handle.write(b"half an aggregate")
    try:
        assert xrootd.purge_buffer(settings, f"{endpoint.root}/{folder}") == []
        state = endpoint.stat(f"{folder}/still-writing.tar")
        assert (state.online, state.on_tape) == (True, False)
    finally:
        handle.close()
    archived(endpoint, f"{folder}/still-writing.tar")


def test_a_client_evict_makes_a_file_offline(endpoint, folder):
    path = f"{folder}/evicted.tar"
    endpoint.write(path, [b"evict me"])
    archived(endpoint, path)

    endpoint.evict([path])

    eventually(lambda: not endpoint.stat(path).online, what="eviction")
    assert endpoint.stat(path).on_tape
