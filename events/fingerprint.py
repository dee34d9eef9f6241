"""CRC-64-AVRO, the 64-bit Rabin fingerprint the Avro spec defines for schemas.

Implemented here rather than borrowed so that the bytes on the wire depend on nothing but
the spec; a unit test cross-checks it against fastavro.
"""

from __future__ import annotations

EMPTY = 0xC15D213AA4D7A795
"""The fingerprint of no bytes, and the polynomial the table is built from."""


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    """The CRC-64-AVRO fingerprint of ``data`` as an unsigned 64-bit integer."""
    fp = EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def schema_fingerprint(canonical_form: str) -> bytes:
    """The 8 fingerprint bytes of a schema's Parsing Canonical Form, little-endian, as the
    single-object header carries them."""
    return crc64_avro(canonical_form.encode()).to_bytes(8, "little")
