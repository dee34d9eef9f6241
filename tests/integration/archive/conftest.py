"""Cached files in the stack's real S3 bucket, archived to its real XRootD tape endpoint."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from XRootD import client

from domain.object_keys import object_key
from nearline import bus
from nearline.requests import RequestLog
from nearline.settings import Settings
from projections.db import make_engine
from stack import tape as stack_tape
from stores.outcomes import Stored
from stores.s3.object_store import ObjectStore
from stores.s3.source_files import Expected
from stores.tape.aggregate import Member
from stores.tape.endpoint import TapeEndpoint, TapeFailure
from tests.integration.accounts import chown
from tests.integration.catalog_queries import wait_for_transaction


class Cache:
    """Files uploaded to the S3 cache as a PUT does (``ObjectStore.upload``), under a
    transaction of their own; the members to archive them as."""

    def __init__(self, store: ObjectStore, holding_id: int, folder: Path) -> None:
        self.store = store
        self.holding_id = holding_id
        self.transaction = f"test-archive-{uuid.uuid4().hex[:12]}"
        self.folder = folder
        self.content: dict[int, bytes] = {}

    def add(self, file_id: int, path: bytes, data: bytes) -> Member:
        local = self.folder / str(file_id)
        local.write_bytes(data)
        status = local.stat()
        key = object_key(self.holding_id, self.transaction, path)
        stored = self.store.upload(bytes(local), key, Expected(status.st_size, status.st_mtime_ns))
        assert isinstance(stored, Stored), stored
        self.content[file_id] = data
        return Member(
            file_id,
            path,
            key,
            len(data),
            0o640,
            status.st_mtime_ns,
            stored.sha256,
            stored.adler32,
        )

    def remove_all(self) -> None:
        client_, bucket = self.store.client, self.store.bucket
        prefix = f"h{self.holding_id}/{self.transaction}/"
        pages = client_.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                client_.delete_object(Bucket=bucket, Key=item["Key"])


@pytest.fixture(scope="module")
def store(settings: Settings) -> Iterator[ObjectStore]:
    with ObjectStore(settings) as object_store:
        yield object_store


@pytest.fixture(scope="module")
def tape(settings: Settings) -> TapeEndpoint:
    return TapeEndpoint(settings.tape.url, settings.tape.root)


def fresh_holding() -> int:
    """A holding id of its own, so that a test's aggregates have tape paths of their own."""
    return 900_000_000 + random.randrange(100_000_000)


@contextlib.contextmanager
def caching(
    store: ObjectStore, tape: TapeEndpoint, settings: Settings, folder: Path
) -> Iterator[Cache]:
    """A cache for one holding; its objects and tape files are removed afterwards."""
    cache = Cache(store, fresh_holding(), folder)
    try:
        yield cache
    finally:
        cache.remove_all()
        remove_tape_folder(tape, settings, f"h{cache.holding_id}")


def remove_tape_folder(tape: TapeEndpoint, settings: Settings, name: str) -> None:
    """Delete the files under ``name`` on the endpoint, online or only on tape."""
    layout = stack_tape.TapeLayout.of(settings)
    paths = set()
    for top in (layout.buffer, layout.media):
        base = top / tape.root.strip("/")
        paths |= {str(p.relative_to(base)) for p in (base / name).rglob("*") if p.is_file()}
    for path in sorted(paths):
        with contextlib.suppress(TapeFailure):
            tape.delete(path)
    client.FileSystem(tape.url).rmdir(f"{tape.root}/{name}", timeout=10)


@pytest.fixture
def cache(
    store: ObjectStore, tape: TapeEndpoint, settings: Settings, tmp_path: Path
) -> Iterator[Cache]:
    with caching(store, tape, settings, tmp_path) as current:
        yield current


WEIRD_PATHS = [
    b"/archive/with space and\nnewline",
    b"/archive/latin1-caf\xe9",
    b"/archive/utf8-\xc3\xa9\xe2\x82\xac",
    b"/archive/" + b"long-folder-" * 12 + b"/" + b"long-name-" * 20,
]


@pytest.fixture(scope="module")
def populated(
    store: ObjectStore, tape: TapeEndpoint, settings: Settings, tmp_path_factory
) -> Iterator[tuple[Cache, list[Member]]]:
    """50 small files (some with awkward names, one empty) and two of 20 MiB, cached once
    for the module's tests, which must not change them."""
    folder = tmp_path_factory.mktemp("cached")
    with caching(store, tape, settings, folder) as current:
        members = []
        for file_id in range(1, 51):
            if file_id <= len(WEIRD_PATHS):
                path = WEIRD_PATHS[file_id - 1]
            else:
                path = b"/archive/small/file-%03d.dat" % file_id
            size = 0 if file_id == 10 else random.randrange(1, 200_000)
            members.append(current.add(file_id, path, os.urandom(size)))
        for file_id in (51, 52):
            data = os.urandom(20 * 1024 * 1024 + file_id)
            members.append(current.add(file_id, b"/archive/big/%d.bin" % file_id, data))
        yield current, members


@pytest.fixture
def engine(catalog_url):
    engine = make_engine(catalog_url)
    yield engine
    engine.dispose()


@pytest.fixture
def producer(settings):
    return bus.producer(settings)


@pytest.fixture
def put(settings, processors, users, engine) -> Iterator[Callable[..., int]]:
    """PUT a folder of files as alice; returns the holding id once the PUT completed."""
    log = RequestLog(settings)
    folders: list[Path] = []
    alice, climate = users["alice"]

    def put_files(contents: dict[str, bytes], tags: dict[str, str] | None = None) -> int:
        folder = Path(tempfile.mkdtemp(prefix="nearline-archive-", dir="/tmp"))
        folders.append(folder)
        folder.chmod(0o755)
        for name, data in contents.items():
            (folder / name).write_bytes(data)
            chown(folder / name, alice, climate)
        chown(folder, alice, climate)
        request = log.put(
            user=alice,
            group=climate,
            paths=[str(folder)],
            label=f"archive-{uuid.uuid4().hex[:8]}",
            tags=tags or {},
        )
        outcome = wait_for_transaction(engine, request.transaction_id, timeout=120)
        assert outcome.state == "COMPLETE", outcome
        assert outcome.holding_id is not None
        return outcome.holding_id

    yield put_files
    log.close()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
