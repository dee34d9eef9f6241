"""Writing fetched content to a file that appears only complete, verified and on disk.

The bytes go to a hidden partial file in the target's folder (so the final rename stays
on one file system and is atomic), are checked while written, and are renamed onto the
target only if they are exactly the expected content. Otherwise the partial file is
removed and the target, if it existed, is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable

from stores.checksums import Checksummer, ContentCheck

PARTIAL_SUFFIX = b".nearline-partial"
_KEPT_NAME_BYTES = 200  # with the dot, token and suffix the name stays within NAME_MAX


class ContentMismatch(Exception):
    """The bytes are not the expected content: wrong size or wrong sha256."""


def write_verified(
    chunks: Iterable[bytes], target: bytes, sha256: str, size: int, dir_fd: int | None = None
) -> Checksummer:
    """Write ``chunks`` to ``target`` if they are ``size`` bytes with the hex ``sha256``.

    Returns their checksums; raises ``ContentMismatch`` (or the ``OSError`` of a failed
    write) and leaves no file behind otherwise. A crash can leave the partial file,
    ``.<name>.<random>.nearline-partial``, for a clean-up to find.

    With ``dir_fd`` (an open directory), ``target`` is a name in that directory and every
    step is made relative to it, so a folder on the way swapped for a symlink after it
    was opened cannot send the file elsewhere.
    """
    if dir_fd is not None and b"/" in target:
        raise ValueError("with dir_fd, the target is a name in that directory")
    partial = partial_path(target)
    try:
        checksums = _write(chunks, partial, sha256, size, dir_fd)
        os.replace(partial, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return checksums
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial, dir_fd=dir_fd)  # gone already after a successful rename


def partial_path(target: bytes) -> bytes:
    """A new hidden name next to ``target``, unique so two writers never share a file."""
    folder, name = os.path.split(target)
    token = secrets.token_hex(4).encode()
    return os.path.join(folder, b"." + name[:_KEPT_NAME_BYTES] + b"." + token + PARTIAL_SUFFIX)


def _write(
    chunks: Iterable[bytes], partial: bytes, sha256: str, size: int, dir_fd: int | None
) -> Checksummer:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(partial, flags, 0o600, dir_fd=dir_fd)
    try:
        return fill_verified(chunks, fd, sha256, size)
    finally:
        os.close(fd)


def fill_verified(
    chunks: Iterable[bytes],
    fd: int,
    sha256: str,
    size: int,
    durable: bool = True,
    checksums: Checksummer | None = None,
) -> Checksummer:
    """Write ``chunks`` to the open, empty file ``fd`` and make them durable, if they are
    ``size`` bytes with the hex ``sha256``; raises ``ContentMismatch`` (having written at
    most ``size`` bytes) or the ``OSError`` of a failed write. Whoever made the file
    moves it into place, or removes it. ``durable=False``: the caller syncs many files
    at once (``stores.durability``) before moving any into place."""
    checksums = checksums or ContentCheck()
    sha256 = sha256.lower()
    try:
        for chunk in chunks:
            if checksums.size + len(chunk) > size:
                raise ContentMismatch  # stop early: never write more than expected
            _write_sparse(fd, chunk, checksums.size)
            checksums.update(chunk)
        if checksums.size != size or checksums.sha256 != sha256:
            raise ContentMismatch
    finally:
        checksums.close()
    os.ftruncate(fd, size)  # a file ending in holes gets its length
    if durable:
        os.fsync(fd)  # the rename must never expose a file whose data is not on disk
    return checksums


HOLE_BLOCK = 64 * 1024  # zero blocks this large (and aligned) are left as holes
_ZEROS = bytes(HOLE_BLOCK)


def _write_sparse(fd: int, data: bytes, offset: int) -> None:
    """Write ``data`` at ``offset``, leaving aligned all-zero blocks unwritten: a sparse
    file comes back sparse (its holes read as zeros, as they did)."""
    view = memoryview(data)
    start = 0
    while start < len(view):
        # Up to the next block boundary of the file, so holes line up with blocks.
        end = min(len(view), start + HOLE_BLOCK - (offset + start) % HOLE_BLOCK)
        block = view[start:end]
        # First and last byte first: most data is not zero there (bytes compare at memcmp
        # speed; a memoryview compares item by item).
        if len(block) != HOLE_BLOCK or block[0] or block[-1] or bytes(block) != _ZEROS:
            _pwrite_all(fd, block, offset + start)
        start = end


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written
