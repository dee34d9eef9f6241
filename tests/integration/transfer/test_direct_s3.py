"""Our own signed PUT and HEAD give the same objects as boto3, and the same errors."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from nearline.settings import Settings
from stores.s3.direct_s3 import DirectS3
from stores.s3.object_store import ObjectStore
from stores.s3.transfer_client import ClientTuning
from tests.integration.transfer.conftest import Transaction

TUNING = ClientTuning(max_attempts=2, connect_timeout=1.0, read_timeout=5.0)


def test_put_and_head_match_boto3(settings: Settings, store: ObjectStore, transaction: Transaction):
    direct = DirectS3(settings.s3, TUNING)
    body = b"direct content"
    sha256 = hashlib.sha256(body).hexdigest()
    key = transaction.key(b"/a dir/100% \xff\n=")
    etag = direct.put(key, body, sha256, {"sha256": sha256, "mtime-ns": "12"})

    assert etag == hashlib.md5(body).hexdigest()
    got = store.client.get_object(Bucket=store.bucket, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["Metadata"] == {"sha256": sha256, "mtime-ns": "12"}
    assert got["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(sha256)).decode()
    head = direct.head(key)
    assert head is not None
    assert (head.size, head.etag, head.metadata) == (len(body), etag, got["Metadata"])


def test_head_of_a_missing_object(settings: Settings, transaction: Transaction):
    assert DirectS3(settings.s3, TUNING).head(transaction.key(b"missing")) is None


def test_a_body_not_matching_its_sha256_is_refused(
    settings: Settings, store: ObjectStore, transaction: Transaction
):
    key = transaction.key(b"damaged")
    with pytest.raises(ClientError) as refused:
        DirectS3(settings.s3, TUNING).put(
            key, b"damaged on the way", hashlib.sha256(b"original").hexdigest(), {}
        )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert not store.exists(key)


def test_wrong_secret(settings: Settings, transaction: Transaction):
    wrong = settings.s3.model_copy(deep=True)
    wrong.secret_key = type(wrong.secret_key)("wrong")
    with pytest.raises(ClientError) as refused:
        DirectS3(wrong, TUNING).put(transaction.key(b"f"), b"", hashlib.sha256().hexdigest(), {})
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_unreachable(settings: Settings, closed_port):
    moved = settings.s3.model_copy(update={"endpoint_url": f"http://127.0.0.1:{closed_port}"})
    started = time.monotonic()
    with pytest.raises(EndpointConnectionError):
        DirectS3(moved, TUNING).head("h1/t/f")
    assert time.monotonic() - started < 5


def test_endpoint_must_be_a_plain_http_url(settings: Settings):
    for url in ("ftp://host/", "http://user:pw@host/", "host:9000"):
        with pytest.raises(ValueError):
            DirectS3(settings.s3.model_copy(update={"endpoint_url": url}), TUNING)
