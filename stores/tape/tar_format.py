"""The tar (pax) format of an aggregate: header blocks and padding, bytes in, bytes out.

An aggregate is a plain POSIX tar (pax) file. Member names are the original paths without
their leading ``/``. A name that a ustar header cannot hold exactly (longer than 100
bytes, or any byte outside printable ASCII: newlines, UTF-8, other encodings) goes in a
pax extended header (``x``) as a ``path`` record, with the ustar name field holding a
printable, truncated fallback for readers that know no pax. POSIX.1-2001 wants ``path``
values in UTF-8, which cannot represent a name that is not valid UTF-8; POSIX.1-2008 added
the ``hdrcharset=BINARY`` record for exactly that: the values are then the raw bytes. So a
valid UTF-8 name is stored as it is, and any other name as raw bytes after
``hdrcharset=BINARY`` (what Python's ``tarfile`` writes for such names too). Python's
``tarfile`` honours it, as do libarchive (bsdtar) and star by their sources; GNU tar (1.34)
says "Ignoring unknown extended header keyword 'hdrcharset'" but lists and extracts the
exact bytes, as it never converts ``path`` values (``--warning=no-unknown-keyword`` quiets
it). Sizes and mtimes beyond the ustar fields (8 GiB, 1970..2242) also go in pax records.
Headers carry the mode and the mtime in whole seconds (the catalog keeps the nanoseconds);
uid and gid are 0, as ownership is the catalog's business too.
"""

from __future__ import annotations

__all__ = ["BLOCK", "END_OF_ARCHIVE", "file_headers", "padded", "padding"]

BLOCK = 512
END_OF_ARCHIVE = bytes(2 * BLOCK)

_USTAR_NAME = 100
_MAX_OCTAL_11 = 8**11  # size and mtime fields: 11 octal digits
_PRINTABLE = bytes(range(0x20, 0x7F))
# Printable ASCII stays, every other byte becomes "_" in the ustar fallback name.
_FALLBACK = bytes(b if 0x20 <= b < 0x7F else ord("_") for b in range(256))


def file_headers(name: bytes, *, mode: int, size: int, mtime_ns: int, serial: int) -> bytes:
    """The header blocks of a regular file named ``name`` in the tar: a pax extended header
    when needed (named after ``serial``, unique within the tar), then ustar."""
    records: list[bytes] = []
    if len(name) > _USTAR_NAME or name.translate(None, _PRINTABLE):
        if not _is_utf8(name):
            records.append(_pax_record(b"hdrcharset", b"BINARY"))
        records.append(_pax_record(b"path", name))
        name = name.translate(_FALLBACK)[:_USTAR_NAME]
    if size >= _MAX_OCTAL_11:
        records.append(_pax_record(b"size", b"%d" % size))
        size = 0
    mtime = mtime_ns // 1_000_000_000
    if not 0 <= mtime < _MAX_OCTAL_11:
        records.append(_pax_record(b"mtime", b"%d" % mtime))
        mtime = 0
    header = _ustar(name, mode & 0o7777, size, mtime, b"0")
    if not records:
        return header
    extended = b"".join(records)
    pax_name = b"PaxHeaders/%d" % serial
    pax = _ustar(pax_name, 0o644, len(extended), mtime, b"x")
    return pax + extended + padding(len(extended)) + header


def padded(size: int) -> int:
    """``size`` rounded up to whole blocks: what data of that size takes in a tar."""
    return -(-size // BLOCK) * BLOCK


def padding(size: int) -> bytes:
    """The zero bytes that follow data of ``size`` bytes to the end of its last block."""
    return bytes(padded(size) - size)


def _ustar(name: bytes, mode: int, size: int, mtime: int, typeflag: bytes) -> bytes:
    header = bytearray(_USTAR_SHARED)
    fields = _octal(mode, 8), _octal(size, 12), _octal(mtime, 12)
    header[0 : len(name)] = name
    header[100:108], header[124:136], header[136:148] = fields
    header[156:157] = typeflag
    # The checksum sums every byte: the shared fields' sum is known, the rest is added
    # (summing the whole block was a tenth of the CPU of archiving small files).
    checksum = _USTAR_SHARED_SUM + sum(name) + sum(b"".join(fields)) + typeflag[0]
    header[148:156] = b"%06o\0 " % checksum
    return bytes(header)


def _shared_fields() -> bytes:
    """What every ustar header of an aggregate holds: owner, magic, device numbers."""
    header = bytearray(BLOCK)
    header[108:116] = _octal(0, 8)  # uid
    header[116:124] = _octal(0, 8)  # gid
    header[148:156] = b" " * 8  # the checksum counts its own field as spaces
    header[257:265] = b"ustar\x0000"
    header[329:337] = _octal(0, 8)  # devmajor
    header[337:345] = _octal(0, 8)  # devminor
    return bytes(header)


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


_USTAR_SHARED = _shared_fields()
_USTAR_SHARED_SUM = sum(_USTAR_SHARED)


def _pax_record(keyword: bytes, value: bytes) -> bytes:
    """``"<length> <keyword>=<value>\\n"``, where the length counts its own digits."""
    rest = b" " + keyword + b"=" + value + b"\n"
    length = len(rest)
    while len(rest) + len(str(length)) != length:
        length = len(rest) + len(str(length))
    return b"%d" % length + rest


def _is_utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
