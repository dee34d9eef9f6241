"""Turning whatever went wrong in a transfer into a ``Failure`` with a short, safe reason.

Reasons name the kind of problem, never an endpoint, key or credential: they end up in
events and user-facing messages.
"""

from __future__ import annotations

import errno
import logging

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as S3ConnectionError

from stores.outcomes import Failure
from stores.s3.source_files import CHANGED, SourceChanged

log = logging.getLogger(__name__)

GONE = "file no longer exists"
CORRUPT = "checksum mismatch: the stored copy is corrupt"
NOT_IN_STORE = "object not found in the store"
UNREACHABLE = "object store unreachable"

# Refusals that say nothing about this file: the service is busy or misconfigured
# (credentials, bucket), so the same request can succeed later.
_STORE_SIDE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "NoSuchBucket",
    }
)
# Timeouts, throttling, and credentials or permissions (a HEAD's error has no code).
_STORE_SIDE_STATUSES = frozenset({401, 403, 408, 429})
_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404"})


def store_failure(error: BotoCoreError | ClientError) -> Failure:
    """A failure of the object store: unreachable, timing out, or refusing a request."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "unknown"))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        retryable = status >= 500 or status in _STORE_SIDE_STATUSES or code in _STORE_SIDE_CODES
        return Failure(f"object store refused the request: {code} (HTTP {status})", retryable)
    if isinstance(error, S3ConnectionError):
        return Failure(f"{UNREACHABLE} ({type(error).__name__})", True)
    if isinstance(error, HTTPClientError):
        return Failure(f"object store connection failed ({type(error).__name__})", True)
    return Failure(f"object store request failed ({type(error).__name__})", True)


def is_unreachable(failure: Failure) -> bool:
    """Whether no connection to the store could be made, even after retries."""
    return failure.reason.startswith(UNREACHABLE)


def upload_failure(error: BaseException) -> Failure:
    """Why copying a file into the object store failed."""
    # botocore's timeout errors are OSErrors too: look at them before local errors.
    if isinstance(error, BotoCoreError | ClientError):
        return store_failure(error)
    if isinstance(error, SourceChanged):
        return Failure(CHANGED, False)
    if isinstance(error, FileNotFoundError | NotADirectoryError):
        return Failure(GONE, False)
    if isinstance(error, PermissionError):
        return Failure("permission denied reading the file", False)
    if isinstance(error, OSError):
        return Failure(f"cannot read the file: {_describe(error)}", _transient(error))
    log.error("unexpected upload error", exc_info=error)
    return Failure(f"unexpected error ({type(error).__name__})", True)


def download_failure(error: BaseException) -> Failure:
    """Why copying an object back to a file failed."""
    if isinstance(error, ClientError) and is_missing(error):
        return Failure(NOT_IN_STORE, False)
    if isinstance(error, BotoCoreError | ClientError):
        return store_failure(error)
    if isinstance(error, FileNotFoundError | NotADirectoryError):
        return Failure("target directory does not exist", False)
    if isinstance(error, PermissionError):
        return Failure("permission denied writing the file", False)
    if isinstance(error, OSError) and error.errno in TARGET_FULL:
        return Failure(f"{_TARGET_FULL_PREFIX}: {_describe(error)}", False)
    if isinstance(error, OSError):
        return Failure(f"cannot write the file: {_describe(error)}", _transient(error))
    log.error("unexpected download error", exc_info=error)
    return Failure(f"unexpected error ({type(error).__name__})", True)


def is_missing(error: ClientError) -> bool:
    """Whether the store answered that the object does not exist."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _MISSING_CODES or status == 404


def _describe(error: OSError) -> str:
    return error.strerror or type(error).__name__


# The user's side is full, over quota or read-only: trying again soon changes nothing and
# would hold other users' work behind this one; the user frees space and asks again.
TARGET_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def target_full(failure: Failure) -> bool:
    """Whether ``failure`` says the user's file system cannot take more."""
    return failure.reason.startswith(_TARGET_FULL_PREFIX)


_TARGET_FULL_PREFIX = "the target file system cannot take it"


def _transient(error: OSError) -> bool:
    # Names too long or paths that cannot exist stay so, and so does a full, over-quota
    # or read-only target; I/O errors or a stale NFS handle may clear up.
    return error.errno not in (
        errno.ENAMETOOLONG,
        errno.EISDIR,
        errno.EINVAL,
        errno.ELOOP,
        *TARGET_FULL,
    )
