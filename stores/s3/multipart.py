"""Large files into the S3 cache as multipart uploads, their checksums recorded at the end.

A file at or above the multipart threshold is a forward-only stream that s3transfer cuts
into parts (each with a CRC32 the server verifies) while its adler32 and sha256 are
computed. They are known only once the last part is read, so they are added to the
completed object's metadata by copying it onto itself. A change to the file fails the
stream at its end, and s3transfer then aborts the upload: a changed file leaves no object.
"""

from __future__ import annotations

import logging
import threading
from typing import IO, TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError
from s3transfer.manager import TransferConfig, TransferManager
from s3transfer.subscribers import BaseSubscriber

from nearline.settings import S3Settings
from stores.checksums import Checksummer
from stores.outcomes import Stored, Tally
from stores.s3.source_files import ChecksummingReader, Expected, SourceFile

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["MultipartUploads", "object_metadata"]

log = logging.getLogger(__name__)


def object_metadata(expected: Expected, checksums: Checksummer | None = None) -> dict[str, str]:
    """What an object records of its source (``x-amz-meta-*``): its size and mtime, and
    the content's adler32 and sha256 once they are known."""
    metadata = {"size": str(expected.size), "mtime-ns": str(expected.mtime_ns)}
    if checksums is not None:
        metadata |= {"adler32": checksums.adler32, "sha256": checksums.sha256}
    return metadata


class _KnownSize(BaseSubscriber):
    """Tells s3transfer a stream's size, which it cannot find out without reading it."""

    def __init__(self, size: int) -> None:
        self._size = size

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._size)


class _Moved(BaseSubscriber):
    """Counts the bytes of a multipart upload in its tally as its parts are sent."""

    def __init__(self, tally: Tally, item: bytes) -> None:
        self._tally = tally
        self._item = item

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        self._tally.moved(self._item, bytes_transferred)


class MultipartUploads:
    """The multipart uploads of one store, through one transfer manager, made when first
    needed and shared by all of them, so that its thread and memory bounds are global."""

    def __init__(self, client: S3Client, bucket: str, s3: S3Settings) -> None:
        self._client = client
        self._bucket = bucket
        self._config = TransferConfig(
            multipart_threshold=s3.multipart_threshold,
            multipart_chunksize=s3.multipart_chunksize,
            max_request_concurrency=s3.max_concurrency,
            # Parts read ahead of the ones being sent: bounds memory to about
            # (max_concurrency + 2) x chunksize however many files are in flight.
            max_in_memory_upload_chunks=s3.max_concurrency + 2,
        )
        self._manager: TransferManager | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the transfer threads."""
        with self._lock:
            if self._manager is not None:
                self._manager.shutdown()
                self._manager = None

    def upload(
        self, source: SourceFile, key: str, expected: Expected, tally: Tally, item: bytes
    ) -> Stored:
        """Upload ``source`` to ``key``, its bytes counted in ``tally`` under ``item`` as
        its parts are sent, and record its checksums on the object."""
        checksums = Checksummer()
        with source:
            future = self._transfer_manager().upload(
                cast(IO[bytes], ChecksummingReader(source, checksums)),  # read() is enough
                self._bucket,
                key,
                # CRC32 of each part, verified by the server: a part damaged on the way
                # fails its request (and is retried) instead of being stored.
                extra_args={"Metadata": object_metadata(expected), "ChecksumAlgorithm": "CRC32"},
                subscribers=[_KnownSize(expected.size), _Moved(tally, item)],
            )
            try:
                future.result()
            except BaseException:
                future.cancel()  # e.g. KeyboardInterrupt: stop sending parts
                raise
        return self._record_checksums(key, expected, checksums)

    def _record_checksums(self, key: str, expected: Expected, checksums: Checksummer) -> Stored:
        """Add the checksums, known only now, to the metadata of the completed object.

        S3 metadata cannot be changed, only replaced by copying the object onto itself
        (versitygw only rewrites its metadata). If the store refuses (AWS copies at most
        5 GiB at once), the object stays valid but a re-run uploads it again.
        """
        head = self._client.head_object(Bucket=self._bucket, Key=key)
        etag = head["ETag"].strip('"')
        try:
            response = self._client.copy_object(
                Bucket=self._bucket,
                Key=key,
                CopySource={"Bucket": self._bucket, "Key": key},
                CopySourceIfMatch=head["ETag"],  # the object uploaded just now, no other
                Metadata=object_metadata(expected, checksums),
                MetadataDirective="REPLACE",
            )
            etag = response["CopyObjectResult"].get("ETag", head["ETag"]).strip('"')
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "unknown")
            log.warning(
                "checksums not recorded on %s (%s): a re-run will upload it again", key, code
            )
        return Stored(key, checksums.size, checksums.adler32, checksums.sha256, etag)

    def _transfer_manager(self) -> TransferManager:
        with self._lock:
            if self._manager is None:
                self._manager = TransferManager(self._client, self._config)
            return self._manager
