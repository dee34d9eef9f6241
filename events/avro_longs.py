"""Avro's longs and lengths (zigzag varints), and the tables generated codecs index.

The plain functions serve the codec's slow paths and the tables its generated fast path
(``compiled``): in CPython 3.11 a lookup costs less than the arithmetic it replaces, so
one-byte lengths, counts and longs, most of them, are read and written by table.
"""

from __future__ import annotations

__all__ = [
    "BYTE_SIZE",
    "BYTE_SPAN",
    "SHIFTED",
    "SIZES",
    "ZIGZAG",
    "read_count",
    "read_long",
    "read_size",
    "value_span",
    "write_long",
]


def _varint(n: int) -> bytes:
    """Avro long: zigzag, then little-endian base-128 (the plain loop, for tables)."""
    if not -(1 << 63) <= n < (1 << 63):
        raise OverflowError(f"{n} does not fit in an Avro long")
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append(z & 0x7F | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_SMALL_LONGS = tuple(_varint(n) for n in range(-64, 64))
SIZES = tuple(_varint(n) for n in range(1024))
"""Precomputed lengths: most strings and paths are shorter than this."""
_HIGH_GROUPS = tuple((h & 0x7F) << 64 | h >> 7 << 72 for h in range(256))
"""The top 8 bits of a 64-bit zigzag value (above the 56 that write_long spreads), spread
as its ninth and tenth bytes."""
_SPREAD_BYTES = tuple((bits + 7) // 8 for bits in range(81))
"""The bytes of a spread varint, by its bit length."""
_CONTINUED = tuple(int.from_bytes(b"\x80" * (k - 1), "little") for k in range(1, 11))
"""At ``k - 1``: the continuation bits of a varint of ``k`` bytes, all but the last."""


def write_long(n: int) -> bytes:
    """The Avro encoding of the long ``n``."""
    if -64 <= n < 64:
        return _SMALL_LONGS[n + 64]
    z = (n << 1) ^ (n >> 63)
    # Spread the 7-bit groups of z one to a byte, halving the group size three times: a
    # dozen operations on the whole number cost less than a loop over its bytes.
    x = (z & 0xFFFFFFF) | (z & 0xFFFFFFF0000000) << 4
    x = (x & 0x3FFF00003FFF) | (x & 0xFFFC0000FFFC000) << 2
    x = (x & 0x7F007F007F007F) | (x & 0x3F803F803F803F80) << 1
    if z >> 56:  # nine or ten bytes (nanosecond times), or too big for a long
        if z >> 64:
            raise OverflowError(f"{n} does not fit in an Avro long")
        x |= _HIGH_GROUPS[z >> 56]
    size = _SPREAD_BYTES[x.bit_length()]
    return (x | _CONTINUED[size - 1]).to_bytes(size, "little")


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """The Avro long at ``pos`` and the position after it."""
    b = data[pos]
    pos += 1
    z = b & 0x7F
    shift = 7
    while b & 0x80:
        if shift > 63:
            raise ValueError("a varint longer than 10 bytes")
        b = data[pos]
        pos += 1
        z |= (b & 0x7F) << shift
        shift += 7
    if z >> 64:
        # fastavro wraps such a value around; it is no long, so the record is corrupt.
        raise ValueError("a varint beyond 64 bits")
    return (z >> 1) ^ -(z & 1), pos


def read_size(data: bytes, pos: int) -> tuple[int, int]:
    """A length: an Avro long that must not be negative."""
    n, pos = read_long(data, pos)
    if n < 0:
        raise ValueError(f"a negative length {n}")
    return n, pos


def value_span(data: bytes, pos: int) -> tuple[int, int]:
    """Where the bytes or string whose length is at ``pos`` lie: the position before its
    first byte and the one after its last (a generated decoder's slow path, which slices
    from one past the first). Raises EOFError when the value does not fit in ``data``."""
    b = data[pos]
    c = data[pos + 1] if b > 0x7F else 0x80
    if c < 0x80 and not b & 1:
        # A length of 64 to 8191 (a long path, say) takes two bytes: read them here.
        n = (b - 0x80 >> 1) + (c << 6)
        start = pos + 2
    else:
        n, start = read_size(data, pos)
    end = start + n
    if end > len(data):
        raise EOFError(f"{n} bytes wanted at {start}, {len(data) - start} left")
    return start - 1, end


def read_count(data: bytes, pos: int) -> tuple[int, int]:
    """The item count of an array or map block and the position of its first item; a
    negative count is followed by the block's size in bytes, which is skipped."""
    n, pos = read_long(data, pos)
    if n < 0:
        _, pos = read_long(data, pos)
        n = -n
    return n, pos


# Tables the generated decoders index: a lookup costs less than the arithmetic.
BYTE_SIZE = tuple(b >> 1 if b < 0x80 and not b & 1 else -1 for b in range(256))
"""The length or count a one-byte varint stands for; -1 for a negative or longer one."""
BYTE_SPAN = tuple(n + 1 if n >= 0 else 1 << 62 for n in BYTE_SIZE)
"""How far from its one-byte length a value ends; for any other first byte, further than
any record, so that the decoder's bounds check sends it to ``value_span``."""
ZIGZAG = tuple((b >> 1) ^ -(b & 1) for b in range(128))
"""The long a one-byte varint stands for."""
SHIFTED = tuple(tuple((b & 0x7F) << (7 * k) for b in range(256)) for k in range(10))
"""``SHIFTED[k][b]``: the bits that byte ``b`` adds to a varint when it is byte ``k``."""
