"""A store, a fresh key prefix and a directory every user can reach, for restore tests."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator

import pytest

from domain.object_keys import key_prefix, object_key
from events.catalog import CatalogedFile
from nearline.settings import Settings
from stores.outcomes import Stored
from stores.s3.object_store import ObjectStore
from stores.s3.source_files import Expected

HOLDING_ID = 9


@pytest.fixture
def store(settings: Settings) -> Iterator[ObjectStore]:
    with ObjectStore(settings) as object_store:
        yield object_store


@pytest.fixture
def transaction_id(store: ObjectStore) -> Iterator[str]:
    """A fresh transaction whose objects are removed afterwards."""
    current = f"restore-{uuid.uuid4().hex[:12]}"
    yield current
    pages = store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=key_prefix(HOLDING_ID, current)
    )
    for page in pages:
        for item in page.get("Contents", []):
            store.delete(item["Key"])


def cataloged(store: ObjectStore, transaction_id: str, path: bytes) -> CatalogedFile:
    """The catalog entry a PUT of ``path`` would make, uploading a file's content."""
    st = os.lstat(path)
    kind, link, key, stored = "DIRECTORY", None, None, None
    if stat.S_ISLNK(st.st_mode):
        kind, link = "LINK", os.readlink(path)
    elif stat.S_ISREG(st.st_mode):
        kind, key = "FILE", object_key(HOLDING_ID, transaction_id, path)
        outcome = store.upload(path, key, Expected(st.st_size, st.st_mtime_ns))
        assert isinstance(outcome, Stored), outcome
        stored = outcome
    return CatalogedFile(
        path=path,
        path_type=kind,
        link_path=link,
        size=st.st_size if kind == "FILE" else 0,
        mode=st.st_mode,
        uid=st.st_uid,
        gid=st.st_gid,
        mtime_ns=st.st_mtime_ns,
        object_key=key,
        adler32=stored.adler32 if stored else None,
        sha256=stored.sha256 if stored else None,
    )
