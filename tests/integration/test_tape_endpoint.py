"""The real XRootD server of the local stack, through the plain XRootD client: write, read
back, checksum and remove a file (nearline's own client is tested in tests/integration/tape)."""

from __future__ import annotations

import os
import uuid
import zlib

from XRootD import client
from XRootD.client.flags import OpenFlags, QueryCode


def tape_url(settings, name: str) -> str:
    # root://host:port//absolute/path: XRootD refuses relative paths.
    return f"{settings.tape.url.rstrip('/')}//{settings.tape.root.strip('/')}/{name}"


def test_write_read_and_checksum_a_file(settings):
    data = os.urandom(3 * 1024 * 1024 + 17)
    name = f"test-{uuid.uuid4()}.bin"
    url = tape_url(settings, name)

    with client.File() as f:
        status, _ = f.open(url, OpenFlags.NEW | OpenFlags.MAKEPATH)
        assert status.ok, status.message
        status, _ = f.write(data)
        assert status.ok, status.message
    with client.File() as f:
        status, _ = f.open(url, OpenFlags.READ)
        assert status.ok, status.message
        status, got = f.read()
        assert status.ok, status.message
    assert got == data

    fs = client.FileSystem(settings.tape.url)
    path = f"/{settings.tape.root.strip('/')}/{name}"
    status, answer = fs.query(QueryCode.CHECKSUM, f"{path}?cks.type=adler32")
    assert status.ok, status.message
    algorithm, value = answer.decode().strip("\x00").split()
    assert algorithm == "adler32"
    assert int(value, 16) == zlib.adler32(data)
    status, _ = fs.rm(path)
    assert status.ok, status.message
