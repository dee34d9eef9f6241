"""The S3 cache seen by transfers: files go in and come back out, every copy verified.

Uploads read each file once: small files (below the multipart threshold) whole, sent in
one PUT that carries their sha256 for the server to verify (by ``direct_s3``, or boto3's
``put_object``); larger files as a forward-only stream that s3transfer cuts into parts
while the checksums are computed (``multipart``).
Each object records the source's size and mtime and the content's adler32 and sha256 as
metadata (``x-amz-meta-*``), so a re-run finds a finished object and reuses it unread.

A change to the file is always caught before its object is completed (a single put is
sent only after the file was read and re-checked; a multipart stream fails at its end,
and s3transfer aborts the multipart upload), so a changed file never leaves an object.

Over 400 lines as one class on purpose: ``ObjectStore`` is the one face of the cache that
eight processes share (uploads, reads, downloads, deletes through one client and one
connection pool); its parts with a job of their own live beside it (``multipart``,
``packs``, ``direct_s3``, ``source_files``, ``verified_files``).
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import stat
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from domain.pack_keys import Slice, slice_of
from nearline.settings import Settings
from stores.checksums import Checksummer, ContentCheck
from stores.closing import Closing
from stores.failures import (
    CORRUPT,
    NOT_IN_STORE,
    download_failure,
    is_missing,
    is_unreachable,
    store_failure,
    upload_failure,
)
from stores.outcomes import NO_TALLY, Failure, Stored, Tally
from stores.s3.direct_s3 import DirectS3, ObjectHead
from stores.s3.multipart import MultipartUploads, object_metadata
from stores.s3.packs import upload_packed
from stores.s3.source_files import (
    Expected,
    Opener,
    SourceFile,
    open_one,
    service_files,
)
from stores.s3.transfer_client import ClientTuning, transfer_client
from stores.s3.verified_files import ContentMismatch, fill_verified, partial_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Expected", "Failure", "ObjectStore", "Stored"]

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 16  # files in flight in upload_many: small files are latency-bound
DOWNLOAD_READ_SIZE = 1024 * 1024
PARALLEL_FROM = 64 * 1024 * 1024  # objects this large are read in ranged parts at once
PART_BYTES = 16 * 1024 * 1024
PARTS_AHEAD = 4  # range requests in flight: 64 MiB held at most


@dataclass(frozen=True)
class RunTarget:
    """A slice of a pack to write into the open file ``fd``, if it has ``sha256``."""

    slice: Slice
    fd: int
    sha256: str


@dataclass(frozen=True)
class Listed:
    """An object as the store lists it: its key, size and last change (epoch seconds)."""

    key: str
    size: int
    modified_s: float


SMALL_DOWNLOAD = 1024 * 1024  # objects below this are downloaded in one direct request
# upload_many lists the keys' common folder instead of probing each key, unless the
# listing would be much longer than the batch (a folder shared with many other objects).
LISTING_MIN_KEYS = 8
LISTING_SLACK = 1000

_ADLER32 = re.compile(r"[0-9a-f]{8}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ObjectStore(Closing):
    """The bucket of the S3 cache, through one pooled, retrying client; thread-safe."""

    def __init__(
        self,
        settings: Settings,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        tuning: ClientTuning | None = None,
        direct: bool = True,
    ) -> None:
        """``direct``: small-object PUTs and HEADs bypass botocore (see ``direct_s3``);
        turn it off for an endpoint that needs virtual-hosted addressing."""
        s3 = settings.s3
        tuning = tuning or ClientTuning()
        self.bucket = s3.bucket
        self.concurrency = max(1, concurrency)
        self._multipart_threshold = s3.multipart_threshold
        # One connection per upload_many worker, plus one per part in flight.
        pool_size = self.concurrency + s3.max_concurrency
        self.client: S3Client = transfer_client(s3, pool_size, tuning)
        self._direct = DirectS3(s3, tuning) if direct else None
        self._multipart = MultipartUploads(self.client, self.bucket, s3)

    def close(self) -> None:
        """Stop the multipart transfer threads and close the connections."""
        self._multipart.close()
        if self._direct is not None:
            self._direct.close()
        self.client.close()

    # -- uploads ---------------------------------------------------------------------

    def upload(
        self, path: bytes, key: str, expected: Expected, opener: Opener = service_files
    ) -> Stored | Failure:
        """Copy the file at ``path`` to ``key`` if it still is the ``expected`` version.

        An object already at ``key`` from an earlier upload of the same version is reused
        without reading the file. Never raises for a file or store problem: the outcome
        says what happened.
        """
        return self._upload(opener, path, key, expected, may_exist=True)

    def upload_many(
        self,
        items: Sequence[tuple[bytes, str, Expected]],
        concurrency: int | None = None,
        opener: Opener = service_files,
        tally: Tally = NO_TALLY,
    ) -> list[Stored | Failure]:
        """``upload`` each (path, key, expected), ``concurrency`` at a time; in order.
        Files are opened by ``opener``: for a user's files, by their own worker. Each
        counts in ``tally`` (by path) as it is sent and once its outcome is known.

        ``concurrency`` is capped by the store's own (its connection pool's size). Once
        the store proves unreachable (after retries), the files not yet started fail at
        once with the same retryable failure rather than each waiting out its retries.
        """
        if not items:
            return []
        workers = min(concurrency or self.concurrency, self.concurrency, len(items))
        unreachable: list[Failure] = []  # the first such failure, seen by every worker
        try:
            absent = self._absent_keys([key for _, key, _ in items])
        except (BotoCoreError, ClientError) as error:
            failure = store_failure(error)
            if is_unreachable(failure):
                return [failure] * len(items)
            log.info("listing failed (%s): probing each key", failure.reason)
            absent = frozenset()

        def one(item: tuple[bytes, str, Expected]) -> Stored | Failure:
            path, key, expected = item
            if unreachable:
                result: Stored | Failure = unreachable[0]
            else:
                result = self._upload(
                    opener, path, key, expected, may_exist=key not in absent, tally=tally
                )
            if isinstance(result, Failure) and is_unreachable(result):
                unreachable.append(result)
            if not (isinstance(result, Failure) and result.retryable):
                tally.done(path, expected.size)  # a retryable failure is not done with
            return result

        if workers == 1:
            return [one(item) for item in items]
        with ThreadPoolExecutor(workers, thread_name_prefix="nearline-upload") as pool:
            return list(pool.map(one, items))

    def upload_packed(
        self,
        items: Sequence[tuple[bytes, Expected]],
        prefix: str,
        target_bytes: int,
        opener: Opener = service_files,
        tally: Tally = NO_TALLY,
    ) -> list[Stored | Failure]:
        """Store small files as slices of packs under ``prefix`` (``packs``); in order."""
        return upload_packed(
            self.put_bytes, self.size_at, items, prefix, target_bytes, opener, tally
        )

    def put_bytes(self, key: str, data: bytes, sha256: str, metadata: dict[str, str]) -> str:
        """Store ``data``, whose hex ``sha256`` the server verifies, at ``key``; its ETag."""
        if self._direct is not None:
            return self._direct.put(key, data, sha256, metadata)
        response = self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            Metadata=metadata,
            ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
        )
        return _etag(response["ETag"])

    def size_at(self, key: str) -> int | None:
        """The size of the object at ``key``, or ``None`` if there is none."""
        head = self._head(key)
        return head.size if head is not None else None

    def _upload(
        self,
        opener: Opener,
        path: bytes,
        key: str,
        expected: Expected,
        may_exist: bool,
        tally: Tally = NO_TALLY,
    ) -> Stored | Failure:
        try:
            if may_exist and (earlier := self._reusable(key, expected)) is not None:
                return earlier
            if expected.size < self._multipart_threshold:
                return self._put_whole(open_one(opener, path, expected), key, expected)
            source = open_one(opener, path, expected)
            return self._multipart.upload(source, key, expected, tally, path)
        except Exception as error:
            return upload_failure(error)

    def _reusable(self, key: str, expected: Expected) -> Stored | None:
        """The object at ``key`` if an earlier upload of this very version finished it."""
        head = self._head(key)
        if head is None:
            return None
        meta = head.metadata
        adler32, sha256 = meta.get("adler32", ""), meta.get("sha256", "")
        same_version = (
            head.size == expected.size
            and meta.get("size") == str(expected.size)
            and meta.get("mtime-ns") == str(expected.mtime_ns)
        )
        # Checksums are missing if the upload stopped before recording them.
        recorded = bool(_ADLER32.fullmatch(adler32) and _SHA256.fullmatch(sha256))
        if not (same_version and recorded):
            return None
        return Stored(key, expected.size, adler32, sha256, head.etag, reused=True)

    def get_small(self, key: str) -> tuple[ObjectHead, bytes] | None:
        """A small object read whole in one request, or ``None`` if there is none. For a
        slice of a pack, its bytes, with no metadata (the pack's is not the slice's)."""
        part = slice_of(key)
        if part is not None:
            data = self.get_range(part.pack, part.offset, part.last)
            return None if data is None else (ObjectHead(len(data), "", {}), data)
        if self._direct is not None:
            return self._direct.get(key)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise
        with closing(answer["Body"]) as body:
            data = body.read()
        etag = _etag(answer.get("ETag", ""))
        return ObjectHead(answer["ContentLength"], etag, answer.get("Metadata", {})), data

    def get_range(self, key: str, first: int, last: int) -> bytes | None:
        """Bytes ``first`` to ``last`` (included) of the object at ``key``, or ``None`` if
        there is none or it ends before ``first``; fewer if it ends before ``last``."""
        if self._direct is not None:
            data = self._direct.get_range(key, first, last)
        else:
            try:
                answer = self.client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes={first}-{last}"
                )
            except ClientError as error:
                if is_missing(error) or _code(error) == "InvalidRange":
                    return None
                raise
            with closing(answer["Body"]) as body:
                data = body.read()
        return data

    def _head(self, key: str) -> ObjectHead | None:
        if self._direct is not None:
            return self._direct.head(key)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise
        return ObjectHead(head["ContentLength"], _etag(head["ETag"]), head.get("Metadata", {}))

    def _put_whole(self, source: SourceFile, key: str, expected: Expected) -> Stored:
        with source:
            data = source.read(expected.size)
            source.check_unchanged()
        checksums = Checksummer()
        checksums.update(data)
        metadata = object_metadata(expected, checksums)
        # The server verifies the body against its sha256: nothing damaged on the way is
        # ever stored.
        etag = self.put_bytes(key, data, checksums.sha256, metadata)
        return Stored(key, expected.size, checksums.adler32, checksums.sha256, etag)

    def _absent_keys(self, keys: list[str]) -> frozenset[str]:
        """Keys certainly not in the store, found by listing their common folder once.

        Spares a ``head_object`` per file on a first upload. Empty when unsure: then each
        key is probed. Store errors raise.
        """
        if len(keys) < LISTING_MIN_KEYS:
            return frozenset()
        # Character-wise on purpose, cut back to the last "/" below.
        prefix = os.path.commonprefix(keys)  # noqa: RUF071
        prefix = prefix[: prefix.rfind("/") + 1]
        if not prefix:
            return frozenset()
        listed: set[str] = set()
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            listed.update(item["Key"] for item in page.get("Contents", []))
            if len(listed) > len(keys) + LISTING_SLACK:
                return frozenset()
        return frozenset(keys) - listed

    # -- downloads -------------------------------------------------------------------

    def download(
        self,
        key: str,
        target: bytes,
        expected_sha256: str,
        expected_size: int,
        dir_fd: int | None = None,
    ) -> Stored | Failure:
        """Copy the object at ``key`` to the file ``target`` (a name in the open directory
        ``dir_fd`` when given) if it is the expected content; for the service's own files.

        The object goes into a hidden partial file next to ``target`` (``download_into``)
        and is renamed into place only if it matches: a failed download leaves no file
        behind and an existing target untouched. Users' files are restored by their own
        worker instead (``transfer_get.restore``), which hands ``download_into`` its file.
        """
        partial = partial_path(target)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(partial, flags, 0o600, dir_fd=dir_fd)
        except OSError as error:
            return download_failure(error)
        try:
            outcome = self.download_into(key, fd, expected_sha256, expected_size)
        finally:
            os.close(fd)
        try:
            if isinstance(outcome, Stored):
                os.replace(partial, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                return outcome
        except OSError as error:
            return download_failure(error)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial, dir_fd=dir_fd)  # gone already after a successful rename
        return outcome

    def download_into(
        self, key: str, fd: int, expected_sha256: str, expected_size: int, durable: bool = True
    ) -> Stored | Failure:
        """Write the object at ``key`` into the open, empty regular file ``fd`` (made by
        the requester's worker, which moves it into place) if it is the expected content;
        the file is durable when this returns ``Stored`` (unless ``durable=False``: then
        the caller syncs it before it is moved into place)."""
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return Failure("the restore was not given a regular file to write", False)
            if self._direct is not None and expected_size < SMALL_DOWNLOAD:
                found = self.get_small(key)
                if found is None:
                    return Failure(NOT_IN_STORE, False)
                head, data = found
                if len(data) != expected_size:
                    raise ContentMismatch
                checksums = fill_verified([data], fd, expected_sha256, expected_size, durable)
                return Stored(key, checksums.size, checksums.adler32, checksums.sha256, head.etag)
            part = slice_of(key)
            if part is None and expected_size >= PARALLEL_FROM:
                etags: list[str] = []
                parts = self._ranged_parts(key, expected_size, etags)
                summer = ContentCheck(threaded=True)
                checksums = fill_verified(
                    parts, fd, expected_sha256, expected_size, durable, summer
                )
                return Stored(key, checksums.size, checksums.adler32, checksums.sha256, etags[0])
            if part is None:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            else:
                span = f"bytes={part.offset}-{part.last}"
                response = self.client.get_object(Bucket=self.bucket, Key=part.pack, Range=span)
            body = response["Body"]
            try:
                if response["ContentLength"] != expected_size:
                    raise ContentMismatch
                chunks = body.iter_chunks(DOWNLOAD_READ_SIZE)
                checksums = fill_verified(chunks, fd, expected_sha256, expected_size, durable)
            finally:
                body.close()
        except ContentMismatch:
            return Failure(CORRUPT, False)
        except Exception as error:
            return download_failure(error)
        return Stored(
            key, checksums.size, checksums.adler32, checksums.sha256, _etag(response["ETag"])
        )

    def _ranged_parts(self, key: str, size: int, etags: list[str]) -> Iterator[bytes]:
        """The object's bytes in order, ``PART_BYTES`` at a time, with up to
        ``PARTS_AHEAD`` range requests in flight while the caller writes and checksums
        the part before: download, checksum and write overlap, as parallel clients do.
        Every part must come from the same version of the object (one ETag)."""

        def fetch(first: int) -> tuple[bytes, str]:
            last = min(first + PART_BYTES, size) - 1
            answer = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={first}-{last}"
            )
            with closing(answer["Body"]) as body:
                return body.read(), _etag(answer["ETag"])

        offsets = iter(range(0, size, PART_BYTES))
        with ThreadPoolExecutor(PARTS_AHEAD, thread_name_prefix="nearline-part") as pool:
            ahead = deque(pool.submit(fetch, first) for first in islice(offsets, PARTS_AHEAD))
            try:
                while ahead:
                    data, etag = ahead.popleft().result()
                    following = next(offsets, None)
                    if following is not None:
                        ahead.append(pool.submit(fetch, following))
                    if etags and etag != etags[0]:
                        raise ContentMismatch  # the object changed while it was read
                    etags.append(etag)
                    yield data
            finally:
                for pending in ahead:
                    pending.cancel()

    @staticmethod
    def slice_of(key: str) -> Slice | None:
        """The pack slice an object key names (``None`` for a whole object's key)."""
        return slice_of(key)

    def download_run_into(
        self, pack: str, into: Sequence[RunTarget], durable: bool = True
    ) -> list[Stored | Failure]:
        """Write consecutive slices of ``pack`` into their open, empty files, read with
        one range request: the small files of a GET come from a pack as a run, not one
        request each. Each is checked against its own sha256, as ``download_into``."""
        first = min(t.slice.offset for t in into)
        last = max(t.slice.last for t in into)
        try:
            data = self.get_range(pack, first, last)
        except Exception as error:
            failed = download_failure(error)
            return [failed for _ in into]
        outcomes: list[Stored | Failure] = []
        for target in into:
            start = target.slice.offset - first
            piece = b"" if data is None else data[start : start + target.slice.size]
            if data is None or len(piece) != target.slice.size:
                outcomes.append(Failure(NOT_IN_STORE, False))
                continue
            try:
                checksums = fill_verified(
                    [piece], target.fd, target.sha256, target.slice.size, durable
                )
            except ContentMismatch:
                outcomes.append(Failure(CORRUPT, False))
                continue
            except OSError as error:
                outcomes.append(download_failure(error))
                continue
            outcomes.append(
                Stored(target.slice.key, checksums.size, checksums.adler32, checksums.sha256, "")
            )
        return outcomes

    # -- objects ---------------------------------------------------------------------

    def abort_stale_uploads(self, older_than_s: float, prefix: str = "") -> list[str]:
        """Abort every multipart upload (under ``prefix``) begun more than
        ``older_than_s`` seconds ago: its writer died, as nearline's own writers abort on
        failure. The keys of those aborted."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        aborted: list[str] = []
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < cutoff:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted.append(upload["Key"])
        return aborted

    def listing(self, prefix: str = "") -> Iterator[Listed]:
        """Every object under ``prefix``, in the order the store lists them (S3: by the
        keys' UTF-8 bytes), a page of a thousand at a time."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield Listed(item["Key"], item["Size"], item["LastModified"].timestamp())

    def exists(self, key: str) -> bool:
        """Whether an object is at ``key``. Store errors other than "not found" raise."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        """Remove the object at ``key``; nothing happens if there is none. A slice of a
        pack is no object: the decider removes its pack once it is unused."""
        if slice_of(key) is None:
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: Sequence[str]) -> list[str]:
        """Remove the objects at ``keys`` (absent ones are fine), a thousand per request;
        the keys the store refused to remove, each with its error code. Store errors
        (unreachable, ...) raise."""
        refused = []
        keys = [key for key in keys if slice_of(key) is None]  # see ``delete``
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            reply = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
            )
            refused += [
                f"{e.get('Key')}: {e.get('Code')}"
                for e in reply.get("Errors", [])
                if e.get("Code") != "NoSuchKey"
            ]
        return refused


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _etag(quoted: str) -> str:
    return quoted.strip('"')
