"""Our SigV4 signatures equal AWS's published example and botocore's own signer."""

from __future__ import annotations

import hashlib

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stores.s3.sigv4 import EMPTY_SHA256, Signer

# The example keys of AWS's documentation (Signature Version 4, "GET Object").
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_aws_documentation_example():
    headers = {
        "host": "examplebucket.s3.amazonaws.com",
        "range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
    }
    authorization = Signer(ACCESS_KEY, SECRET_KEY, "us-east-1").authorization(
        "GET", "/test.txt", headers, EMPTY_SHA256
    )
    assert authorization == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def botocore_signature(method: str, url: str, headers: dict[str, str], region: str) -> str:
    request = AWSRequest(method=method, url=url, headers=headers)
    request.context["timestamp"] = headers["x-amz-date"]
    auth = S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", region)
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


@pytest.mark.parametrize(
    "path",
    [
        "/nearline-cache/h1/tx/%252Fdata/run%25201/f%2525.txt",
        "/bucket/h1/tx/sha256%3D" + "ab" * 32,
        "/prefix/bucket/plain/key.bin",
    ],
)
@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1"])
def test_same_signature_as_botocore(path, region):
    body = b"some content"
    sha256 = hashlib.sha256(body).hexdigest()
    headers = {
        "host": "127.0.0.1:29000",
        "x-amz-date": "20261121T154500Z",
        "x-amz-content-sha256": sha256,
        "content-length": str(len(body)),
        "x-amz-checksum-sha256": "c29tZQ==",
        "x-amz-meta-mtime-ns": "1795276381999788520",
        "x-amz-meta-sha256": sha256,
    }
    ours = Signer(ACCESS_KEY, SECRET_KEY, region).authorization("PUT", path, headers, sha256)
    expected = botocore_signature("PUT", "http://127.0.0.1:29000" + path, headers, region)
    assert ours.endswith(f"Signature={expected}")


def test_signing_key_follows_the_day():
    signer = Signer(ACCESS_KEY, SECRET_KEY, "us-east-1")
    headers = {"host": "h", "x-amz-content-sha256": EMPTY_SHA256}
    day_one = signer.authorization(
        "HEAD", "/b/k", headers | {"x-amz-date": "20260101T000000Z"}, EMPTY_SHA256
    )
    day_two = signer.authorization(
        "HEAD", "/b/k", headers | {"x-amz-date": "20260102T000000Z"}, EMPTY_SHA256
    )
    assert "/20260101/" in day_one and "/20260102/" in day_two
    for authorization, date in ((day_one, "20260101T000000Z"), (day_two, "20260102T000000Z")):
        expected = botocore_signature(
            "HEAD", "http://h/b/k", headers | {"x-amz-date": date}, "us-east-1"
        )
        assert authorization.endswith(f"Signature={expected}")
