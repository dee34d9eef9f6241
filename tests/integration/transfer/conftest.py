"""Fixtures for transfers against the local stack's real S3 server (versitygw)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from domain.object_keys import key_prefix, object_key
from nearline.settings import Settings
from stores.s3.object_store import ObjectStore
from stores.s3.source_files import Expected

PART_SIZE = 5 * 1024 * 1024  # S3's smallest part: many parts from a small file


def expected_of(path: bytes) -> Expected:
    status = os.stat(path)
    return Expected(status.st_size, status.st_mtime_ns)


def read(path: bytes) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write(path: bytes, data: bytes) -> bytes:
    with open(path, "wb") as f:
        f.write(data)
    return path


@dataclass(frozen=True)
class Transaction:
    """A fresh key prefix for one test; its objects are removed afterwards."""

    holding_id: int
    transaction_id: str

    def key(self, path: bytes) -> str:
        return object_key(self.holding_id, self.transaction_id, path)

    @property
    def prefix(self) -> str:
        return key_prefix(self.holding_id, self.transaction_id)


@pytest.fixture(params=[True, False], ids=["direct", "botocore"])
def direct(request: pytest.FixtureRequest) -> bool:
    """Small objects both ways: our own signed requests, and boto3's put_object."""
    return bool(request.param)


@pytest.fixture
def store(settings: Settings) -> Iterator[ObjectStore]:
    with ObjectStore(settings) as object_store:
        yield object_store


@pytest.fixture
def parts_settings(settings: Settings) -> Settings:
    """Settings with 5 MiB multipart threshold and parts."""
    small = settings.model_copy(deep=True)
    small.s3.multipart_threshold = PART_SIZE
    small.s3.multipart_chunksize = PART_SIZE
    small.s3.max_concurrency = 4
    return small


@pytest.fixture
def parts_store(parts_settings: Settings) -> Iterator[ObjectStore]:
    with ObjectStore(parts_settings) as object_store:
        yield object_store


@pytest.fixture
def transaction(settings: Settings, store: ObjectStore) -> Iterator[Transaction]:
    current = Transaction(7, f"test-{uuid.uuid4().hex[:12]}")
    yield current
    client, bucket = store.client, settings.s3.bucket
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=current.prefix)
    for page in pages:
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=current.prefix)
    for upload in uploads.get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
