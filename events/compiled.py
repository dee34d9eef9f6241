"""Encoders and decoders generated from a schema: the codec's fast path.

fastavro's schemaless writer and reader make a Python call per value, about 10 µs for a
typical request event, which caps the codec near 100,000 events/s. For the types events
use, straight-line Python generated once per schema does the same work several times
faster. Its bytes are identical to fastavro's and its values equal (unit tests check
every schema's samples); anything it does not compile (unions other than null-or-one-type,
logical types, recursive types) raises ``Unsupported`` and the codec uses fastavro.

In CPython 3.11 the cost is the count of bytecodes and of objects made, so the generated
code works with tables rather than arithmetic: one-byte lengths, counts and longs (most
of them) are lookups, longer varints (a timestamp takes six bytes) are unrolled rather
than looped, and a frozen event is filled through a writable subclass (``filling``).

Generated decoders raise EOFError or IndexError when the data ends early, ValueError or
UnicodeDecodeError when it is corrupt, and ``Rejected`` when the event class refuses the
values. Names from the schema are inserted only as attribute or keyword names after a check
that they are identifiers, and every other constant is passed in, never spliced in.

Over 400 lines as one job, generating code: the encoders and the decoders are built by one
``_Source`` from one reading of the schema (``resolve``, ``_nullable``, ``_min_size``); the
varints and tables they use are in ``avro_longs``, the filling of frozen events in
``filling``.
"""

from __future__ import annotations

import keyword
import linecache
import struct
from collections.abc import Callable
from typing import Any, Literal

from events.avro_longs import (
    BYTE_SIZE,
    BYTE_SPAN,
    SHIFTED,
    SIZES,
    ZIGZAG,
    read_count,
    value_span,
    write_long,
)
from events.filling import writable_subclass

# A parsed schema node: a type name (str), a union (list) or a complex type (dict).
Schema = Any


class Unsupported(Exception):
    """The schema uses something the generator does not compile."""


class Rejected(Exception):
    """The decoded values are well-formed Avro but the event class refused them."""


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_FLOAT = struct.Struct("<f")
_DOUBLE = struct.Struct("<d")


class _Source:
    """Lines of one generated function and the constants it refers to."""

    def __init__(self, named: dict[str, Any]):
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {
            "_long": write_long,
            "_SIZES": SIZES,
            "_value_span": value_span,
            "_read_count": read_count,
            "_BYTE_SIZE": BYTE_SIZE,
            "_BYTE_SPAN": BYTE_SPAN,
            "_ZIGZAG": ZIGZAG,
            **{f"_SHIFTED{k}": SHIFTED[k] for k in range(1, 10)},
            "_Rejected": Rejected,
        }
        self.named = named
        self.resolving: list[str] = []
        self.text = False
        """Whether a decoder reads strings from ``t``."""
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
    # The value is d[p + 1:e] when its length takes one byte; value_span handles the rest.
    src.line(depth, "e = p + _BYTE_SPAN[d[p]]")
    src.line(depth, "if e > end:")
    src.line(depth + 1, "p, e = _value_span(d, p)")
    if text:
        # Sliced from the record read as latin-1 (``t``), an ASCII string is one object
        # made instead of two; any other is decoded from its bytes as UTF-8.
        src.text = True
        src.line(depth, f"{target} = t[p + 1:e]")
        src.line(depth, f"if not {target}.isascii():")
        src.line(depth + 1, f"{target} = d[p + 1:e].decode()")
    else:
        src.line(depth, f"{target} = d[p + 1:e]")
    src.line(depth, "p = e")


def _decode_long(src: _Source, target: str, depth: int) -> None:
    """A long, inline: a one-byte varint by table, a longer one (timestamps take six bytes)
    unrolled, each byte adding its bits from a table. Lookups and ``+`` are what the
    interpreter runs fastest; a loop or a call costs more than the bytes themselves."""
    src.line(depth, "b = d[p]")
    src.line(depth, "if b < 0x80:")
    src.line(depth + 1, f"{target} = _ZIGZAG[b]")
    src.line(depth + 1, "p += 1")
    src.line(depth, "else:")
    src.line(depth + 1, "z = b - 0x80")
    inner = depth + 1
    for k in range(1, 9):
        src.line(inner, f"b = d[p + {k}]")
        src.line(inner, f"z += _SHIFTED{k}[b]")
        src.line(inner, "if b < 0x80:")
        src.line(inner + 1, f"p += {k + 1}")
        src.line(inner, "else:")
        inner += 1
    # The tenth byte holds the 64th bit, and nothing else, as in read_long.
    src.line(inner, "b = d[p + 9]")
    src.line(inner, "if b > 1:")
    src.line(inner + 1, "raise ValueError(f'a varint beyond 64 bits (tenth byte {b:#x})')")
    src.line(inner, "z += _SHIFTED9[b]")
    src.line(inner, "p += 10")
    src.line(depth + 1, f"{target} = (z >> 1) ^ -(z & 1)")


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
        _decode_long(src, target, depth)
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
    _decode_count(src, count, depth)
    src.line(depth, f"while {count}:")
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
    _decode_count(src, count, depth + 1)


def _decode_count(src: _Source, count: str, depth: int) -> None:
    """The count of a block: a one-byte count looked up like a one-byte length; any other,
    and a negative one, which a byte size follows, read by ``read_count``."""
    src.line(depth, f"{count} = _BYTE_SIZE[d[p]]")
    src.line(depth, f"if {count} < 0:")
    src.line(depth + 1, f"{count}, p = _read_count(d, p)")
    src.line(depth, "else:")
    src.line(depth + 1, "p += 1")


def compile_decoder(
    schema: dict[str, Any], cls: Callable[..., Any], start: int = 10
) -> Callable[[bytes], Any]:
    """A function reading a whole record of ``schema`` from ``start`` and building ``cls``.

    Slotted classes (events) are built without their ``__init__`` (see ``filling``);
    ``__post_init__`` is still called. Other callables (``dict``, plain classes) are called
    with the fields as keywords.
    """
    src = _Source(schema.get("__named_schemas", {}))
    src.resolving.append(schema["name"])
    names, locals_ = [], []
    for field in schema["fields"]:
        names.append(_identifier(field["name"]))
        locals_.append(src.local("f"))
        _decode(src, field["type"], locals_[-1], 1)
    head = ["def decode(d):", "    end = len(d)", f"    p = {start}"]
    if src.text:
        head.append("    t = d.decode('latin-1')")
    src.lines[:0] = head
    src.line(1, "if p != end:")
    src.line(2, "raise ValueError(f'{end - p} bytes after the record')")
    filling = writable_subclass(cls, names)
    if filling is not None:
        # Set every slot on an instance of the writable subclass, then make it a cls.
        src.line(1, f"o = {src.const(filling, 'filling')}()")
        for name, local in zip(names, locals_, strict=True):
            src.line(1, f"o.{name} = {local}")
        src.line(1, f"o.__class__ = {src.const(cls, 'cls')}")
        if hasattr(cls, "__post_init__"):
            src.line(1, "try:")
            src.line(2, "o.__post_init__()")
            src.line(1, "except Exception as error:")
            src.line(2, "raise _Rejected(error) from error")
    else:
        arguments = ", ".join(f"{n}={v}" for n, v in zip(names, locals_, strict=True))
        src.line(1, "try:")
        src.line(2, f"o = {src.const(cls, 'cls')}({arguments})")
        src.line(1, "except Exception as error:")
        src.line(2, "raise _Rejected(error) from error")
    src.line(1, "return o")
    return src.function("decode", f"decode {schema['name']}")
