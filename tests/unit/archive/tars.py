"""Tars built from fake members, and read back by Python's tarfile and GNU tar."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

from stores.tape.aggregate import AggregateIndex, Member, stream_aggregate
from stores.tape.cache_reading import CachedObjects

HOLDING = 42


def build(
    store: CachedObjects, members: Sequence[Member], write_size: int = 64 * 1024
) -> tuple[bytes, AggregateIndex]:
    """The tar of ``members``, streamed into memory, and its index."""
    stream = stream_aggregate(store, members, holding_id=HOLDING, write_size=write_size)
    buffer = io.BytesIO()
    for chunk in stream.chunks():
        buffer.write(chunk)
    return buffer.getvalue(), stream.result()


def tarfile_members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return tar.getmembers()


def tarfile_name(info: tarfile.TarInfo) -> bytes:
    """The raw bytes of a name as ``tarfile`` read it (undecodable bytes are escaped)."""
    return os.fsencode(info.name)


_LISTING = re.compile(r"(\S+) (\S+) +(\d+) (\S+) (\S+) (.*)")
_ESCAPES = {"\\": 0x5C, "n": 0x0A, "t": 0x09, "r": 0x0D, "a": 0x07, "b": 0x08, "f": 0x0C}
_ESCAPES["v"] = 0x0B


def gnu_tar_listing(archive: Path) -> tuple[list[tuple[bytes, int]], str]:
    """(name, size) of each member as GNU tar's ``tar -tvf`` lists it, and its stderr.

    Names are printed with C escapes (``--quoting-style=escape``, C locale: every byte
    outside printable ASCII as ``\\ooo``), so that each is one line and exact.
    """
    listing = subprocess.run(
        ["tar", "--quoting-style=escape", "-tvf", str(archive)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    entries = []
    for line in listing.stdout.splitlines():
        match = _LISTING.fullmatch(line)
        assert match, line
        entries.append((unescape(match.group(6)), int(match.group(3))))
    return entries, listing.stderr


def unescape(text: str) -> bytes:
    out = bytearray()
    position = 0
    while position < len(text):
        char = text[position]
        if char != "\\":
            out.append(ord(char))
            position += 1
        elif text[position + 1].isdigit():
            out.append(int(text[position + 1 : position + 4], 8))
            position += 4
        else:
            out.append(_ESCAPES[text[position + 1]])
            position += 2
    return bytes(out)


def only_hdrcharset_warnings(stderr: str) -> bool:
    """GNU tar 1.34 knows no ``hdrcharset`` keyword (but reads the raw names right)."""
    warning = "unknown extended header keyword 'hdrcharset'"
    return all(warning in line for line in stderr.splitlines())
