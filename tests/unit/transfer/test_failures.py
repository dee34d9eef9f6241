"""Failures say whether retrying may help, and never leak endpoints or credentials."""

from __future__ import annotations

import errno

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from stores.failures import (
    GONE,
    NOT_IN_STORE,
    download_failure,
    upload_failure,
)
from stores.s3.source_files import CHANGED, SourceChanged

ENDPOINT = "http://secret-host.example:9000"


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url=ENDPOINT),
        ConnectTimeoutError(endpoint_url=ENDPOINT),
        ReadTimeoutError(endpoint_url=ENDPOINT),
        NoCredentialsError(),
        client_error("InternalError", 500),
        client_error("SlowDown", 503),
        client_error("RequestTimeout", 400),
        client_error("AccessDenied", 403),
        client_error("NoSuchBucket", 404),
    ],
)
def test_store_trouble_is_retryable(error):
    failure = upload_failure(error)
    assert failure.retryable
    assert "secret-host" not in failure.reason


@pytest.mark.parametrize(
    "error",
    [
        client_error("KeyTooLongError", 400),
        client_error("BadDigest", 400),
        client_error("EntityTooLarge", 400),
    ],
)
def test_refusals_of_the_request_itself_are_final(error):
    failure = upload_failure(error)
    assert not failure.retryable
    assert error.response["Error"]["Code"] in failure.reason


def test_file_problems_are_final():
    assert upload_failure(SourceChanged(CHANGED)) == upload_failure(SourceChanged())
    assert upload_failure(SourceChanged()).reason == CHANGED
    assert not upload_failure(SourceChanged()).retryable
    assert upload_failure(FileNotFoundError(errno.ENOENT, "x")).reason == GONE
    assert not upload_failure(NotADirectoryError(errno.ENOTDIR, "x")).retryable
    denied = upload_failure(PermissionError(errno.EACCES, "Permission denied", "/secret/path"))
    assert not denied.retryable and "permission" in denied.reason and "/secret" not in denied.reason


def test_io_errors_may_clear_up():
    failure = upload_failure(OSError(errno.EIO, "Input/output error"))
    assert failure.retryable and "Input/output error" in failure.reason
    assert not upload_failure(OSError(errno.ENAMETOOLONG, "File name too long")).retryable


def test_download_failures():
    assert download_failure(client_error("NoSuchKey", 404)).reason == NOT_IN_STORE
    assert not download_failure(client_error("NoSuchKey", 404)).retryable
    assert download_failure(EndpointConnectionError(endpoint_url=ENDPOINT)).retryable
    assert not download_failure(FileNotFoundError(errno.ENOENT, "x")).retryable
    assert not download_failure(PermissionError(errno.EACCES, "x")).retryable
    full = download_failure(OSError(errno.ENOSPC, "No space left on device"))
    assert not full.retryable and "cannot take it" in full.reason  # the user's to fix


def test_unexpected_errors_are_reported_not_raised():
    failure = upload_failure(RuntimeError("bug"))
    assert failure.retryable and "RuntimeError" in failure.reason
