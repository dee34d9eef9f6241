"""The real S3 server of the local stack stores and returns objects intact."""

from __future__ import annotations

import hashlib
import os
import uuid

from boto3.s3.transfer import TransferConfig

from stack import s3
from stores.failures import CORRUPT, NOT_IN_STORE
from stores.outcomes import Failure, Stored
from stores.s3 import object_store
from stores.s3.object_store import ObjectStore


def test_write_and_read_an_object(settings):
    client = s3.client(settings)
    key = f"test/{uuid.uuid4()}"
    body = os.urandom(100_000)
    client.put_object(Bucket=settings.s3.bucket, Key=key, Body=body)
    try:
        got = client.get_object(Bucket=settings.s3.bucket, Key=key)["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()
        head = client.head_object(Bucket=settings.s3.bucket, Key=key)
        assert head["ContentLength"] == len(body)
    finally:
        client.delete_object(Bucket=settings.s3.bucket, Key=key)


def test_multipart_upload(settings, tmp_path):
    client = s3.client(settings)
    key = f"test/{uuid.uuid4()}"
    source = tmp_path / "big"
    source.write_bytes(os.urandom(12 * 1024 * 1024))
    config = TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    client.upload_file(str(source), settings.s3.bucket, key, Config=config)
    try:
        head = client.head_object(Bucket=settings.s3.bucket, Key=key)
        assert head["ContentLength"] == source.stat().st_size
        assert "-" in head["ETag"]  # a multipart ETag: parts were really used
        target = tmp_path / "back"
        client.download_file(settings.s3.bucket, key, str(target))
        assert target.read_bytes() == source.read_bytes()
    finally:
        client.delete_object(Bucket=settings.s3.bucket, Key=key)


def test_a_large_object_is_read_in_ranged_parts_in_order(settings, tmp_path, monkeypatch):
    """Past PARALLEL_FROM, download_into reads ranged parts several at once and writes
    them in order: the file is the object, its sums are the object's; a wrong sum is
    refused and a missing object says so."""
    monkeypatch.setattr(object_store, "PARALLEL_FROM", 8 * 1024 * 1024)
    monkeypatch.setattr(object_store, "PART_BYTES", 1024 * 1024)
    body = os.urandom(8 * 1024 * 1024 + 12345)
    key = f"test/{uuid.uuid4()}"
    client = s3.client(settings)
    client.put_object(Bucket=settings.s3.bucket, Key=key, Body=body)
    ranges: list[str] = []
    with ObjectStore(settings) as store:
        real = store.client.get_object

        def counted(**kwargs):
            ranges.append(kwargs.get("Range", "whole"))
            return real(**kwargs)

        monkeypatch.setattr(store.client, "get_object", counted)
        try:
            sha256 = hashlib.sha256(body).hexdigest()
            with open(tmp_path / "back", "wb+") as f:
                stored = store.download_into(key, f.fileno(), sha256, len(body))
            assert isinstance(stored, Stored) and stored.sha256 == sha256, stored
            assert (tmp_path / "back").read_bytes() == body
            assert len(ranges) == 9 and "whole" not in ranges  # 8 full parts and the rest
            with open(tmp_path / "wrong", "wb+") as f:
                refused = store.download_into(key, f.fileno(), "0" * 64, len(body))
            assert isinstance(refused, Failure) and refused.reason == CORRUPT
        finally:
            client.delete_object(Bucket=settings.s3.bucket, Key=key)
        with open(tmp_path / "gone", "wb+") as f:
            missing = store.download_into(key, f.fileno(), sha256, len(body))
        assert isinstance(missing, Failure) and missing.reason == NOT_IN_STORE
