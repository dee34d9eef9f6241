"""Deterministic sample records for any Avro schema.

Sample ``i`` takes branch ``i`` (modulo their number) of every union and symbol ``i`` of
every enum, and cycles through edge values: empty and long strings, non-UTF-8 bytes,
extreme longs, empty and filled arrays and maps. Enough samples (``sample_count``) cover
every branch of every union. Used by the compatibility check, the test vectors and tests.
"""

from __future__ import annotations

from typing import Any

Schema = str | list[Any] | dict[str, Any]

_VALUES: dict[str, tuple[Any, ...]] = {
    "null": (None,),
    "boolean": (False, True),
    "int": (0, -1, 2**31 - 1, -(2**31), 300),
    "long": (0, -1, 2**63 - 1, -(2**63), 1_700_000_000_000),
    "float": (0.0, -1.5, 3.25),
    "double": (0.0, -1.5, 1e300),
    "bytes": (b"", b"/data/\xff\xfe-not-utf8.nc", bytes(range(200))),
    "string": ("", "nearline", "ünïcødé ✓ 漢字", "x" * 150),
}
# Values that convert to Python dates and times without overflow.
_LOGICAL: dict[str, tuple[Any, ...]] = {
    "date": (0, 19_675),
    "time-millis": (0, 45_296_789),
    "time-micros": (0, 45_296_789_012),
    "timestamp-millis": (0, 1_700_000_000_000),
    "timestamp-micros": (0, 1_700_000_000_000_000),
    "local-timestamp-millis": (0, 1_700_000_000_000),
    "local-timestamp-micros": (0, 1_700_000_000_000_000),
    "uuid": ("6f1c3a3e-8d2b-5b7e-9a51-0c2f8e4d9b10",),
}
_DEPTH_LIMIT = 4
"""Below this depth, unions prefer null and collections are empty: recursive types end."""


def sample_count(schema: dict[str, Any]) -> int:
    """How many samples cover every union branch and every enum symbol (at least 3)."""
    widest = 3
    for node in _walk(schema, set()):
        if isinstance(node, list):
            widest = max(widest, len(node))
        elif node.get("type") == "enum":
            widest = max(widest, len(node["symbols"]))
    return widest


def sample_records(schema: dict[str, Any], count: int | None = None) -> list[Any]:
    """``count`` (default ``sample_count``) deterministic records of a parsed schema."""
    named = dict(schema.get("__named_schemas", {}))
    total = sample_count(schema) if count is None else count
    return [_sample(schema, i, named, 0) for i in range(total)]


def _walk(schema: Schema, seen: set[str]) -> list[Any]:
    """Every union and named or complex node of a schema, each named type once."""
    if isinstance(schema, list):
        return [schema] + [n for branch in schema for n in _walk(branch, seen)]
    if not isinstance(schema, dict):
        return []
    if "name" in schema:
        if schema["name"] in seen:
            return []
        seen.add(schema["name"])
    nodes: list[Any] = [schema]
    kind = schema.get("type")
    if kind == "record":
        for field in schema["fields"]:
            nodes += _walk(field["type"], seen)
    elif kind == "array":
        nodes += _walk(schema["items"], seen)
    elif kind == "map":
        nodes += _walk(schema["values"], seen)
    return nodes


def _sample(schema: Schema, i: int, named: dict[str, Any], depth: int) -> Any:
    if isinstance(schema, list):
        branches = schema
        if depth >= _DEPTH_LIMIT and "null" in branches:
            return None
        return _sample(branches[i % len(branches)], i, named, depth + 1)
    if isinstance(schema, str):
        if schema in _VALUES:
            values = _VALUES[schema]
            return values[i % len(values)]
        return _sample(named[schema], i, named, depth)
    kind = schema["type"]
    logical = _LOGICAL.get(schema.get("logicalType", ""))
    if logical is not None:
        return logical[i % len(logical)]
    if isinstance(kind, (dict, list)) or kind in _VALUES:
        # Logical types are written from their underlying type, which fastavro accepts.
        return _sample(kind, i, named, depth)
    if kind == "enum":
        return schema["symbols"][i % len(schema["symbols"])]
    if kind == "fixed":
        return bytes((i + k) % 256 for k in range(schema["size"]))
    if kind == "array":
        length = 0 if depth >= _DEPTH_LIMIT else i % 3
        return [_sample(schema["items"], i + k, named, depth + 1) for k in range(length)]
    if kind == "map":
        length = 0 if depth >= _DEPTH_LIMIT else i % 3
        return {
            f"key-{k}": _sample(schema["values"], i + k, named, depth + 1) for k in range(length)
        }
    if kind == "record":
        named.setdefault(schema["name"], schema)
        return {f["name"]: _sample(f["type"], i, named, depth + 1) for f in schema["fields"]}
    if kind in named:
        return _sample(named[kind], i, named, depth)
    raise ValueError(f"no sample for type {kind!r}")
