"""The long runs against the real stack (``make peers``): what the original's
post-deployment tests ask of a server (8 concurrent clients, files up to 1 GiB), and the
real pacifica-cartd building a cart of files that live only on tape."""

from __future__ import annotations

import hashlib
import io
import os
import random
import tarfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.integration.archive.recall_helpers import archive_evict_and_purge
from tests.integration.pacifica.cartd import cartd_venv, running_cartd
from tests.integration.pacifica.conftest import Archive, holding_of, new_id

pytestmark = pytest.mark.peers

CLIENTS = 8
FILES = 1000
GIB = 1024**3


def test_eight_clients_write_and_read_a_thousand_files(archive: Archive, engine) -> None:
    files = {new_id(): os.urandom(random.randrange(1, 200_000)) for _ in range(FILES)}
    ids = list(files)

    def write(file_id: str) -> int:
        with archive.client() as client:
            return client.put(file_id, content=files[file_id]).status_code

    def read(file_id: str) -> bool:
        with archive.client() as client:
            head = client.head(file_id)
            body = client.get(file_id).content
        return head.headers["x-content-length"] == str(len(files[file_id])) and (
            body == files[file_id]
        )

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        assert set(pool.map(write, ids)) == {201}
        written = time.monotonic()
        random.shuffle(ids)
        assert all(pool.map(read, ids))
    objects = _cache_objects(engine, ids)
    print(
        f"\n{FILES} files by {CLIENTS} clients: written in {written - started:.1f}s, "
        f"read back in {time.monotonic() - written:.1f}s, in {len(objects)} objects"
    )
    assert len(objects) < FILES * 0.8  # small files arriving together share packs


def test_a_one_gib_file_round_trips(archive: Archive) -> None:
    block = os.urandom(1024 * 1024)
    expected = hashlib.sha256()
    for _ in range(1024):
        expected.update(block)
    file_id = new_id()

    def body():
        for _ in range(1024):
            yield block

    started = time.monotonic()
    with archive.client() as client:
        put = client.put(file_id, content=body(), headers={"Content-Length": str(GIB)})
        assert put.status_code == 201, put.text
        assert put.json()["total_bytes"] == GIB
        stored = time.monotonic()
        got = hashlib.sha256()
        size = 0
        with client.stream("GET", file_id) as reply:
            assert reply.headers["content-length"] == str(GIB)
            for chunk in reply.iter_bytes():
                got.update(chunk)
                size += len(chunk)
        assert size == GIB and got.hexdigest() == expected.hexdigest()
        tail = client.get(file_id, params={"byte_range": f"{GIB - 10}-{GIB}"})
        assert tail.content == block[-10:]
    print(f"\n1 GiB: PUT {stored - started:.1f}s, GET {time.monotonic() - stored:.1f}s")


def test_pacifica_cartd_builds_a_cart_of_files_only_on_tape(
    trusted_archive: Archive, settings, engine, producer, tape, tmp_path: Path
) -> None:
    venv = cartd_venv(settings.home)
    files = {new_id(): os.urandom(50_000 + i * 1000) for i in range(5)}
    with trusted_archive.client() as client:
        for file_id, data in files.items():
            assert client.put(file_id, content=data).status_code == 201
        archive_evict_and_purge(
            settings, engine, producer, tape, holding_of(engine, next(iter(files)))
        )
        assert {client.head(i).headers["x-pacifica-file-storage-media"] for i in files} == {"tape"}
    folder = tmp_path / "cartd"
    with running_cartd(venv, trusted_archive.url, folder, settings.ports.api + 23) as cartd:
        cart = uuid.uuid4().hex
        fileids = [
            {
                "id": file_id,
                "path": f"/run/{n}.dat",
                "hashtype": "sha256",
                "hashsum": hashlib.sha256(data).hexdigest(),
            }
            for n, (file_id, data) in enumerate(files.items())
        ]
        made = httpx.post(f"{cartd}/{cart}", json={"fileids": fileids})
        assert made.status_code == 201, made.text
        assert made.json() == {"message": "Cart Processing has begun"}
        deadline = time.monotonic() + 300
        while True:
            head = httpx.head(f"{cartd}/{cart}")
            status = head.headers.get("x-pacifica-status")
            if status == "ready":
                break
            assert status != "error", head.headers.get("x-pacifica-message")
            assert time.monotonic() < deadline, (status, (folder / "worker.log").read_text())
            time.sleep(2)
        tar = httpx.get(f"{cartd}/{cart}", params={"filename": "run.tar"}, timeout=120)
        assert tar.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(tar.content)) as bundle:
        members = {m.name: bundle.extractfile(m).read() for m in bundle.getmembers() if m.isfile()}
    assert members == {f"run/run/{n}.dat": data for n, data in enumerate(files.values())}, sorted(
        members
    )


def _cache_objects(engine, ids: list[str]) -> set[str]:
    """The cache objects holding these files (a pack counts once)."""
    from sqlalchemy import select

    from domain.pack_keys import pack_of
    from projections import tables as t

    f, loc = t.files, t.locations
    paths = [f"/{i}".encode() for i in ids]
    query = (
        select(loc.c.path)
        .select_from(f.join(loc, loc.c.file_id == f.c.id))
        .where(f.c.path.in_(paths) & (loc.c.storage_type == "OBJECT_STORAGE"))
    )
    with engine.connect() as conn:
        return {pack_of(key) or key for key in conn.execute(query).scalars()}
