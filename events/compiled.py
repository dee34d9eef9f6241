"""Encoders and decoders generated from a schema: the codec's fast path.

fastavro's schemaless writer and reader make a Python call per value, about 10 µs for a
typical request event, which caps the codec near 100,000 events/s. For the types events
use, straight-line Python generated once per schema does the same work several times
faster. Its bytes are identical to fastavro's and its values equal (unit tests check
every schema's samples); anything it does not compile (unions other than null-or-one-type,
logical types, recursive types) raises ``Unsupported`` and the codec uses fastavro.

Generated decoders raise EOFError or IndexError when the data ends early, ValueError or
UnicodeDecodeError when it is corrupt, and ``Rejected`` when the event class refuses the
values. Names from the schema are inserted only as attribute or keyword names after a check
that they are identifiers, and every other constant is passed in, never spliced in.
"""

from __future__ import annotations

import keyword
import linecache
import struct
from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any, Literal

# A parsed schema node: a type name (str), a union (list) or a complex type (dict).
Schema = Any


class Unsupported(Exception):
    """The schema uses something the generator does not compile."""


class Rejected(Exception):
    """The decoded values are well-formed Avro but the event class refused them."""


def _varint(n: int) -> bytes:
    """Avro long: zigzag, then little-endian base-128."""
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
_SIZES = tuple(_varint(n) for n in range(1024))
"""Precomputed lengths: most strings and paths are shorter than this."""
# A one-byte length (even byte below 0x80) maps to its value, anything else to -1.
_BYTE_SIZE = tuple(b >> 1 if b < 0x80 and not b & 1 else -1 for b in range(256))


def write_long(n: int) -> bytes:
    """The Avro encoding of the long ``n``."""
    if -64 <= n < 64:
        return _SMALL_LONGS[n + 64]
    return _varint(n)


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
    return (z >> 1) ^ -(z & 1), pos


def read_size(data: bytes, pos: int) -> tuple[int, int]:
    """A length or count: an Avro long that must not be negative."""
    n, pos = read_long(data, pos)
    if n < 0:
        raise ValueError(f"a negative length {n}")
    return n, pos


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_FLOAT = struct.Struct("<f")
_DOUBLE = struct.Struct("<d")


class _Source:
    """Lines of one generated function and the constants it refers to."""

    def __init__(self, named: dict[str, Any]):
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {
            "_long": write_long,
            "_read_long": read_long,
            "_read_size": read_size,
            "_SIZES": _SIZES,
            "_BYTE_SIZE": _BYTE_SIZE,
            "_Rejected": Rejected,
        }
        self.named = named
        self.resolving: list[str] = []
        self._count = 0

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def local(self, hint: str) -> str:
        self._count += 1
        return f"{hint}{self._count}"

    def const(self, value: Any, hint: str) -> str:
        name = f"_{hint}{len(self.constants)}"
        self.constants[name] = value
        return name

    def function(self, name: str, label: str) -> Callable[..., Any]:
        text = "\n".join(self.lines) + "\n"
        filename = f"<nearline codec: {label}>"
        # Registered with linecache so that tracebacks through generated code show it.
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        namespace = dict(self.constants)
        exec(compile(text, filename, "exec"), namespace)
        function: Callable[..., Any] = namespace[name]
        return function

    def resolve(self, schema: Schema) -> Schema:
        """The definition of a named type reference; primitives as plain names."""
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return schema
            if schema not in self.named:
                raise Unsupported(f"unknown type {schema}")
            if schema in self.resolving:
                raise Unsupported(f"recursive type {schema}")
            return self.named[schema]
        if isinstance(schema, dict):
            if "logicalType" in schema:
                raise Unsupported(f"logical type {schema['logicalType']}")
            if schema.get("type") in _PRIMITIVES:
                return str(schema["type"])
        return schema


def _identifier(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise Unsupported(f"field name {name!r} is not a Python identifier")
    return name


def _kind(schema: Schema) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return str(schema["type"])


def _nullable(src: _Source, union: list[Any]) -> tuple[int, Schema]:
    """For a union of null and one other type: the null branch index and the other type."""
    branches = [src.resolve(b) for b in union]
    kinds = [_kind(b) for b in branches]
    if len(branches) != 2 or "null" not in kinds or "union" in kinds or kinds[0] == kinds[1]:
        raise Unsupported(f"union {union}")
    null_index = kinds.index("null")
    return null_index, branches[1 - null_index]


def _min_size(src: _Source, schema: Schema) -> int:
    """Fewest bytes a value of ``schema`` takes: decoders bound counts by it."""
    schema = src.resolve(schema)
    kind = _kind(schema)
    if kind == "null":
        return 0
    if kind in ("float", "double"):
        return 4 if kind == "float" else 8
    if kind == "fixed":
        return int(schema["size"])
    if kind == "record":
        src.resolving.append(schema["name"])
        size = sum(_min_size(src, f["type"]) for f in schema["fields"])
        src.resolving.pop()
        return size
    return 1


# Encoders: append the bytes of the value held in local ``value`` with ``a(...)``.


def _encode(src: _Source, schema: Schema, value: str, depth: int) -> None:
    schema = src.resolve(schema)
    kind = _kind(schema)
    if kind == "null":
        return
    if kind == "boolean":
        src.line(depth, f'a(b"\\x01" if {value} else b"\\x00")')
    elif kind in ("int", "long"):
        src.line(depth, f"a(_long({value}))")
    elif kind in ("float", "double"):
        pack = src.const((_FLOAT if kind == "float" else _DOUBLE).pack, kind)
        src.line(depth, f"a({pack}({value}))")
    elif kind in ("bytes", "string"):
        data = value
        if kind == "string":
            data = src.local("s")
            src.line(depth, f"{data} = {value}.encode()")
        src.line(depth, f"n = len({data})")
        src.line(depth, "a(_SIZES[n] if n < 1024 else _long(n))")
        src.line(depth, f"a({data})")
    elif kind == "fixed":
        size = int(schema["size"])
        src.line(depth, f"if len({value}) != {size}:")
        src.line(depth + 1, f"raise ValueError('fixed of size {size}')")
        src.line(depth, f"a({value})")
    elif kind == "enum":
        symbols = schema["symbols"]
        table = src.const({s: write_long(i) for i, s in enumerate(symbols)}, "enum")
        src.line(depth, f"a({table}[{value}])")
    elif kind in ("array", "map"):
        item = src.local("item")
        src.line(depth, f"if {value}:")
        src.line(depth + 1, f"a(_long(len({value})))")
        if kind == "array":
            src.line(depth + 1, f"for {item} in {value}:")
        else:
            key = src.local("key")
            src.line(depth + 1, f"for {key}, {item} in {value}.items():")
            _encode(src, "string", key, depth + 2)
        items = schema["items" if kind == "array" else "values"]
        _encode(src, items, item, depth + 2)
        src.line(depth, 'a(b"\\x00")')
    elif kind == "record":
        src.resolving.append(schema["name"])
        for field in schema["fields"]:
            local = src.local("f")
            src.line(depth, f"{local} = {value}[{field['name']!r}]")
            _encode(src, field["type"], local, depth)
        src.resolving.pop()
    elif kind == "union":
        null_index, other = _nullable(src, schema)
        src.line(depth, f"if {value} is None:")
        src.line(depth + 1, f"a({write_long(null_index)!r})")
        src.line(depth, "else:")
        src.line(depth + 1, f"a({write_long(1 - null_index)!r})")
        _encode(src, other, value, depth + 1)
    else:
        raise Unsupported(f"type {kind}")


def compile_encoder(
    schema: dict[str, Any],
    header: bytes,
    fallback: Callable[[Any], bytes],
    access: Literal["attribute", "item"] = "attribute",
) -> Callable[[Any], bytes]:
    """A function writing ``header`` and the Avro body of a record of ``schema``.

    The record's fields are read as attributes (events) or items (dicts). When the fast
    path fails on a value (a wrong type, a missing key), the whole record is written again
    by ``fallback``, so the result and the errors are exactly fastavro's.
    """
    src = _Source(schema.get("__named_schemas", {}))
    head = src.const(header, "header")
    src.line(0, "def encode(record):")
    src.line(1, "try:")
    src.line(2, f"out = [{head}]")
    src.line(2, "a = out.append")
    src.resolving.append(schema["name"])
    for field in schema["fields"]:
        name = _identifier(field["name"])
        local = src.local("f")
        src.line(
            2,
            f"{local} = record.{name}" if access == "attribute" else f"{local} = record[{name!r}]",
        )
        _encode(src, field["type"], local, 2)
    src.line(2, 'return b"".join(out)')
    src.line(1, "except Exception:")
    src.line(2, f"return {src.const(fallback, 'fallback')}(record)")
    return src.function("encode", f"encode {schema['name']}")


# Decoders: read the value at ``p`` of ``d`` into the local ``target``, advancing ``p``.


def _read_bytes(src: _Source, target: str, depth: int, text: bool) -> None:
    src.line(depth, "n = _BYTE_SIZE[d[p]]")
    src.line(depth, "if n < 0:")
    src.line(depth + 1, "n, p = _read_size(d, p)")
    src.line(depth, "else:")
    src.line(depth + 1, "p += 1")
    src.line(depth, "e = p + n")
    src.line(depth, "if e > end:")
    src.line(depth + 1, "raise EOFError(f'{n} bytes wanted at {p}, {end - p} left')")
    src.line(depth, f"{target} = d[p:e].decode()" if text else f"{target} = d[p:e]")
    src.line(depth, "p = e")


def _decode(src: _Source, schema: Schema, target: str, depth: int) -> None:
    schema = src.resolve(schema)
    kind = _kind(schema)
    if kind == "null":
        src.line(depth, f"{target} = None")
    elif kind == "boolean":
        src.line(depth, "b = d[p]")
        src.line(depth, "p += 1")
        src.line(depth, "if b > 1:")
        src.line(depth + 1, "raise ValueError(f'boolean byte {b}')")
        src.line(depth, f"{target} = b == 1")
    elif kind in ("int", "long"):
        src.line(depth, "b = d[p]")
        src.line(depth, "if b < 0x80:")
        src.line(depth + 1, f"{target} = (b >> 1) ^ -(b & 1)")
        src.line(depth + 1, "p += 1")
        src.line(depth, "else:")
        src.line(depth + 1, f"{target}, p = _read_long(d, p)")
    elif kind in ("float", "double"):
        unpack = src.const((_FLOAT if kind == "float" else _DOUBLE).unpack_from, kind)
        src.line(depth, f"{target} = {unpack}(d, p)[0]")
        src.line(depth, f"p += {4 if kind == 'float' else 8}")
    elif kind in ("bytes", "string"):
        _read_bytes(src, target, depth, text=kind == "string")
    elif kind == "fixed":
        size = int(schema["size"])
        src.line(depth, f"e = p + {size}")
        src.line(depth, "if e > end:")
        src.line(depth + 1, f"raise EOFError('fixed of {size} bytes at {{p}}')")
        src.line(depth, f"{target} = d[p:e]")
        src.line(depth, "p = e")
    elif kind == "enum":
        symbols = tuple(schema["symbols"])
        table = src.const(symbols, "symbols")
        index = src.local("i")
        _decode(src, "long", index, depth)
        src.line(depth, f"if not 0 <= {index} < {len(symbols)}:")
        src.line(depth + 1, f"raise ValueError(f'enum index {{{index}}}')")
        src.line(depth, f"{target} = {table}[{index}]")
    elif kind in ("array", "map"):
        _decode_blocks(src, schema, kind, target, depth)
    elif kind == "record":
        src.resolving.append(schema["name"])
        parts = []
        for field in schema["fields"]:
            local = src.local("f")
            _decode(src, field["type"], local, depth)
            parts.append(f"{field['name']!r}: {local}")
        src.resolving.pop()
        src.line(depth, f"{target} = {{{', '.join(parts)}}}")
    elif kind == "union":
        null_index, other = _nullable(src, schema)
        src.line(depth, "b = d[p]")
        src.line(depth, "p += 1")
        src.line(depth, f"if b == {write_long(null_index)[0]}:")
        src.line(depth + 1, f"{target} = None")
        src.line(depth, f"elif b == {write_long(1 - null_index)[0]}:")
        _decode(src, other, target, depth + 1)
        src.line(depth, "else:")
        src.line(depth + 1, "raise ValueError(f'union branch byte {b}')")
    else:
        raise Unsupported(f"type {kind}")


def _decode_blocks(
    src: _Source, schema: dict[str, Any], kind: str, target: str, depth: int
) -> None:
    """An array or map: blocks of items, each block a count (negative: followed by its
    byte size), ending with a zero count."""
    items = schema["items" if kind == "array" else "values"]
    smallest = _min_size(src, items)
    if kind == "array" and smallest == 0:
        # Nothing would bound the count: a corrupt record could loop for ever.
        raise Unsupported("array of values that take no bytes")
    count, item = src.local("count"), src.local("item")
    src.line(depth, f"{target} = []" if kind == "array" else f"{target} = {{}}")
    src.line(depth, "while True:")
    _decode(src, "long", count, depth + 1)  # inlined: most counts take one byte
    src.line(depth + 1, f"if {count} <= 0:")
    src.line(depth + 2, f"if {count} == 0:")
    src.line(depth + 3, "break")
    src.line(depth + 2, f"{count} = -{count}")
    src.line(depth + 2, "_, p = _read_long(d, p)")
    src.line(depth + 1, f"if {count} > end - p:")
    src.line(depth + 2, f"raise EOFError(f'{{{count}}} items at {{p}}, {{end - p}} bytes left')")
    src.line(depth + 1, f"for _ in range({count}):")
    if kind == "map":
        key = src.local("key")
        _read_bytes(src, key, depth + 2, text=True)
        _decode(src, items, item, depth + 2)
        src.line(depth + 2, f"{target}[{key}] = {item}")
    else:
        _decode(src, items, item, depth + 2)
        src.line(depth + 2, f"{target}.append({item})")


def compile_decoder(
    schema: dict[str, Any], cls: Callable[..., Any], start: int = 10
) -> Callable[[bytes], Any]:
    """A function reading a whole record of ``schema`` from ``start`` and building ``cls``.

    Slotted classes (events) are filled through their slot descriptors, which is several
    times faster than a frozen dataclass's ``__init__``; ``__post_init__`` is still called.
    Other callables (``dict``, plain classes) are called with the fields as keywords.
    """
    src = _Source(schema.get("__named_schemas", {}))
    src.line(0, "def decode(d):")
    src.line(1, "end = len(d)")
    src.line(1, f"p = {start}")
    src.resolving.append(schema["name"])
    names, locals_ = [], []
    for field in schema["fields"]:
        names.append(_identifier(field["name"]))
        locals_.append(src.local("f"))
        _decode(src, field["type"], locals_[-1], 1)
    src.line(1, "if p != end:")
    src.line(2, "raise ValueError(f'{end - p} bytes after the record')")
    src.line(1, "try:")
    slots = [getattr(cls, name, None) for name in names]
    if isinstance(cls, type) and all(isinstance(s, MemberDescriptorType) for s in slots):
        src.line(2, f"o = {src.const(object.__new__, 'new')}({src.const(cls, 'cls')})")
        for slot, local in zip(slots, locals_, strict=True):
            assert isinstance(slot, MemberDescriptorType)  # for mypy: checked above
            src.line(2, f"{src.const(slot.__set__, 'set')}(o, {local})")
        if hasattr(cls, "__post_init__"):
            src.line(2, "o.__post_init__()")
    else:
        arguments = ", ".join(f"{n}={v}" for n, v in zip(names, locals_, strict=True))
        src.line(2, f"o = {src.const(cls, 'cls')}({arguments})")
    src.line(1, "except Exception as error:")
    src.line(2, "raise _Rejected(error) from error")
    src.line(1, "return o")
    return src.function("decode", f"decode {schema['name']}")
