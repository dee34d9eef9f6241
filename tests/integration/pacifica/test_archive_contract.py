"""The archive interface's contract, through plain HTTP against the real stack: what
pacifica-archiveinterface 0.4 answers, and what nearline adds (tokens, confined ids, a
refused upload that leaves nothing)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from nearline.settings import Settings
from projections import tables as t
from stores.s3.object_store import ObjectStore
from tests.integration.pacifica.conftest import Archive, holding_of, new_id

STATUS_HEADERS = (
    "x-pacifica-messsage",
    "x-pacifica-file",
    "x-content-length",
    "last-modified",
    "x-pacifica-ctime",
    "x-pacifica-bytes-per-level",
    "x-pacifica-file-storage-media",
)


def test_liveness(archive: Archive) -> None:
    reply = httpx.get(archive.url)  # no token: liveness is open, as in the original
    assert reply.status_code == 200
    assert reply.json() == {"message": "Pacifica Archive Interface Up and Running"}


def test_put_head_get_range_delete(archive: Archive) -> None:
    data = os.urandom(200_000)
    file_id = new_id()
    with archive.client() as client:
        put = client.put(file_id, content=data)
        assert put.status_code == 201, put.text
        assert put.json() == {"message": "File added to archive", "total_bytes": len(data)}

        head = client.head(file_id)
        assert head.status_code == 204
        assert head.content == b""
        assert all(name in head.headers for name in STATUS_HEADERS), head.headers
        assert head.headers["x-pacifica-messsage"] == "File was found"
        assert head.headers["x-content-length"] == str(len(data))
        assert head.headers["x-pacifica-file-storage-media"] == "disk"
        assert head.headers["x-pacifica-bytes-per-level"] == f"({len(data)},)"
        assert abs(float(head.headers["last-modified"]) - time.time()) < 600
        assert abs(float(head.headers["x-pacifica-ctime"]) - time.time()) < 600
        assert head.headers["x-pacifica-file"] == f"/{file_id}"

        whole = client.get(file_id)
        assert whole.status_code == 200
        assert whole.headers["content-length"] == str(len(data))
        assert whole.content == data
        part = client.get(file_id, params={"byte_range": "1000-5000"})
        assert part.content == data[1000:5000]  # end exclusive
        assert part.headers["content-length"] == "4000"
        assert client.get(file_id, params={"byte_range": "10-9"}).status_code == 500

        staged = client.post(file_id, headers={"Content-Length": "0"})
        assert staged.status_code == 200
        assert staged.json() == {"message": "File was staged", "file": file_id}

        gone = client.delete(file_id)
        assert gone.status_code == 200 and gone.content == b""
        assert client.head(file_id).status_code == 404
        assert client.get(file_id).status_code == 404


def test_a_second_put_of_an_id_is_refused_as_the_original_and_keeps_the_first(
    archive: Archive,
) -> None:
    file_id = new_id()
    with archive.client() as client:
        assert client.put(file_id, content=b"first").status_code == 201
        again = client.put(file_id, content=b"second!")
        assert again.status_code == 500
        body = again.json()
        assert set(body) == {"status", "message", "traceback", "version"}
        assert "Can't open" in body["traceback"]
        assert 'File "' not in body["traceback"] and "/var/" not in body["traceback"]
        assert client.get(file_id).content == b"first"


@pytest.mark.parametrize("size", [50_000, 2 * 1024 * 1024], ids=["packed", "own-object"])
def test_racing_puts_of_one_id_catalog_one_and_leave_only_its_object(
    archive: Archive, settings: Settings, engine, size: int
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from domain.pack_keys import pack_of

    known = new_id()  # the namespace's holding exists once one file is in
    with archive.client() as client:
        assert client.put(known, content=b"k").status_code == 201
    holding_id = holding_of(engine, known)
    store = ObjectStore(settings, direct=False)
    try:
        before = set(_objects_named(store, holding_id, ""))
        file_id = new_id()
        bodies = [bytes([i]) * size for i in range(4)]
        with archive.client() as client, ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda b: client.put(file_id, content=b), bodies))
            codes = sorted(r.status_code for r in replies)
            assert codes == [201, 500, 500, 500], [r.text for r in replies]
            winner = bodies[[r.status_code for r in replies].index(201)]
            assert client.get(file_id).content == winner
        [key] = _object_keys_of(engine, file_id)
        kept = {pack_of(key) or key}
        deadline = time.monotonic() + 60
        while True:  # the object deleter is asynchronous
            new = set(_objects_named(store, holding_id, "")) - before
            if new == kept or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert new == kept
    finally:
        store.close()


def test_bad_input_gets_a_clear_error(archive: Archive) -> None:
    with archive.client() as client:
        assert client.head(new_id()).status_code == 404
        missing = client.post(new_id())
        assert missing.status_code == 500  # cartd takes only a 500 as a failed stage (D150)
        assert "not found" in missing.json()["message"]
        climbing = client.get("..%2F..%2Fetc%2Fhostname")
        assert climbing.status_code in (400, 404)
        assert b"localhost" not in climbing.content
        no_length = client.put(new_id(), content=iter([b"abc"]))  # chunked: no length
        assert no_length.status_code == 411


def test_tokens_are_required_and_only_the_account_s(archive: Archive) -> None:
    file_id = new_id()
    anonymous = httpx.put(f"{archive.url}{file_id}", content=b"x")
    assert anonymous.status_code == 403
    forged = httpx.head(f"{archive.url}{file_id}", headers={"Authorization": "Bearer nope"})
    assert forged.status_code == 401


def test_patch_moves_in_only_from_the_ingest_folder(
    archive: Archive, ingest_folder: Path, tmp_path: Path
) -> None:
    data = b"moved in " * 1000
    source = ingest_folder / "incoming.dat"
    source.write_bytes(data)
    file_id = new_id()
    with archive.client() as client:
        moved = client.patch(file_id, json={"path": str(source)})
        assert moved.status_code == 200, moved.text
        assert moved.json() == {"message": "File Moved Successfully"}
        assert not source.exists()
        assert client.get(file_id).content == data
        outside = tmp_path / "secret"
        outside.write_bytes(b"not yours")
        refused = client.patch(new_id(), json={"path": str(outside)})
        assert refused.status_code == 403
        assert outside.exists()
        escape = client.patch(new_id(), json={"path": f"{ingest_folder}/../{outside}"})
        assert escape.status_code == 403
        # A link below the folder is never followed, wherever it leads.
        (ingest_folder / "linked").symlink_to(tmp_path)
        linked = client.patch(new_id(), json={"path": str(ingest_folder / "linked" / "secret")})
        assert linked.status_code == 403, linked.text
        assert outside.read_bytes() == b"not yours"


def test_other_routes_keep_the_body_limit(archive: Archive, settings: Settings) -> None:
    base = archive.url.split("/pacifica/")[0]
    big = b"x" * (settings.limits.max_body_bytes + 1)
    reply = httpx.post(f"{base}/api/v1/puts", content=big, headers=archive.headers)
    assert reply.status_code == 413
    # The archive's POST (stage) is no upload: the limit stands there too.
    assert (
        httpx.post(f"{archive.url}{new_id()}", content=big, headers=archive.headers).status_code
        == 413
    )


def _object_keys_of(engine, file_id: str) -> list[str]:
    f, loc = t.files, t.locations
    query = (
        select(loc.c.path)
        .select_from(f.join(loc, loc.c.file_id == f.c.id))
        .where((f.c.path == f"/{file_id}".encode()) & (f.c.state == "CATALOGED"))
    )
    with engine.connect() as conn:
        return [row.path for row in conn.execute(query)]


def _objects_named(store: ObjectStore, holding_id: int, suffix: str) -> list[str]:
    """Keys ending in ``suffix`` of the namespace's holding (and of uploads made before
    it existed, under holding 0)."""
    paginator = store.client.get_paginator("list_objects_v2")
    keys = []
    for prefix in (f"h{holding_id}/", "h0/"):
        for page in paginator.paginate(Bucket=store.bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(suffix)]
    return sorted(keys)


def test_a_client_gone_mid_upload_leaves_no_file_and_no_upload(
    archive: Archive, settings: Settings, engine
) -> None:
    import socket
    from urllib.parse import urlsplit

    known = new_id()  # the namespace's holding exists once one file is in
    with archive.client() as client:
        assert client.put(known, content=b"k").status_code == 201
    holding_id = holding_of(engine, known)
    file_id = new_id()
    url = urlsplit(archive.url)
    sent = 40 * 1024 * 1024  # past the first parts: a multipart upload is under way
    with socket.create_connection((url.hostname, url.port)) as raw:
        head = (
            f"PUT {url.path}{file_id} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: {archive.headers['Authorization']}\r\n"
            f"Content-Length: {sent * 2}\r\n\r\n"
        )
        raw.sendall(head.encode())
        chunk = os.urandom(1024 * 1024)
        for _ in range(sent // len(chunk)):
            raw.sendall(chunk)
        time.sleep(1)
    store = ObjectStore(settings, direct=False)
    try:
        deadline = time.monotonic() + 30
        while True:
            uploads = [
                u["Key"]
                for prefix in (f"h{holding_id}/", "h0/")
                for u in store.client.list_multipart_uploads(
                    Bucket=store.bucket, Prefix=prefix
                ).get("Uploads", [])
                if u["Key"].endswith(f"%2F{file_id}")
            ]
            if not uploads or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert uploads == []
        assert _objects_named(store, holding_id, f"%2F{file_id}") == []
    finally:
        store.close()
    with archive.client() as client:
        assert client.head(file_id).status_code == 404
        assert client.put(file_id, content=b"after all").status_code == 201


def test_served_alone_on_a_trusted_network_it_needs_no_credentials(
    trusted_archive: Archive,
) -> None:
    file_id = new_id()
    with trusted_archive.client() as client:  # no Authorization header at all
        assert client.put(file_id, content=b"from ingest").status_code == 201
        assert client.head(file_id).headers["x-pacifica-file-storage-media"] == "disk"
        assert client.get(file_id).content == b"from ingest"
    cart_root = trusted_archive.url.replace("/pacifica/archive/", "/pacifica/cart/")
    assert httpx.get(cart_root).status_code == 200  # the cart wire beside it
