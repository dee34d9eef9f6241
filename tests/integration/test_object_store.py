"""The real S3 server of the local stack stores and returns objects intact."""

from __future__ import annotations

import hashlib
import os
import uuid

from boto3.s3.transfer import TransferConfig

from stack import s3


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
