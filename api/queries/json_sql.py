"""PostgreSQL expressions that write values as JSON text byte for byte as pydantic-core
writes them for the API's models, so that a listing's lines can be made by the database
and only forwarded by the API (D210).

Each function takes the SQL of a value and returns the SQL of its JSON text. Strings go
through ``to_json``, which escapes exactly what pydantic-core escapes (``"``, ``\\`` and
the control characters, in the same short and ``\\u00xx`` forms) and leaves the rest as
UTF-8."""

from __future__ import annotations

import json

from pydantic_core import to_json

SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~/-"
"""What ``urllib.parse.quote`` leaves as it is (its always-safe characters and ``/``),
spelled out: a range in a bracket expression may follow the collation."""

SLICE = r"^(.+/pack=[0-9a-f]{64})#(0|[1-9][0-9]*)\+([1-9][0-9]*)$"
"""A slice of a pack (``domain.pack_keys``): the pack, then its offset and size."""


def constant(text: str) -> str:
    """A SQL string constant (standard-conforming: backslashes are themselves)."""
    return "'" + text.replace("'", "''") + "'"


def string(value: str) -> str:
    """A JSON string, or ``null`` for NULL."""
    return f"coalesce(to_json({value})::text, 'null')"


def known(value: str, names: tuple[str, ...]) -> str:
    """``string(value)`` for a column that nearly always holds one of ``names`` (a path
    type, a storage type, a checksum algorithm): those are written as constants, any
    other value goes through ``to_json``. On PostgreSQL 15 each ``to_json`` call looks its
    argument's type up again, which costs more than the escaping itself."""
    cases = []
    for name in names:
        if json.dumps(name) != f'"{name}"':
            raise ValueError(f"{name!r} is not written as it is in JSON")
        cases.append(f"WHEN {constant(name)} THEN {constant(json.dumps(name))}")
    return f"CASE {value} {' '.join(cases)} ELSE {string(value)} END"


def moment(ms: str) -> str:
    """Epoch milliseconds as pydantic writes ``when(ms)``: UTC, ``Z``, and the fraction as
    six digits only when it is not zero. Integer arithmetic throughout (floor division
    for times before 1970), so the milliseconds are exact."""
    fraction = f"(({ms} % 1000 + 1000) % 1000)"
    seconds = f"to_timestamp(({ms} - {fraction}) / 1000) AT TIME ZONE 'UTC'"
    return (
        f"""'"' || to_char({seconds}, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE {fraction} """
        f"""WHEN 0 THEN 'Z"' ELSE '.' || lpad({fraction}::text, 3, '0') || '000Z"' END"""
    )


def path_text(path: str) -> str:
    """A path's text as ``api.paths.path_text`` writes it (``nearline_path_text``)."""
    return f"nearline_path_text({path})"


def path_b64(path: str, text: str) -> str:
    """``api.paths.path_b64`` as JSON: the path's base64 (on one line) when its text does
    not carry its bytes, else ``null``. The text carries them exactly when encoding it
    gives them back: a byte that is not UTF-8 became four characters ``\\xNN``."""
    return (
        f"CASE WHEN {path} IS NULL OR convert_to({text}, 'UTF8') = {path} THEN 'null' "
        f"""ELSE '"' || translate(encode({path}, 'base64'), E'\\n', '') || '"' END"""
    )


def quote(value: str) -> str:
    """``urllib.parse.quote(value)``: runs of safe characters as they are, every other
    character as the ``%XX`` of its UTF-8 bytes. Keys of plain characters, nearly all,
    take the first branch; the others are split by a regular expression."""
    return (
        f"CASE WHEN {value} ~ '^[{SAFE}]*$' THEN {value} ELSE ("
        "SELECT string_agg(coalesce(m[1], upper(regexp_replace("
        "encode(convert_to(m[2], 'UTF8'), 'hex'), '(..)', '%\\1', 'g'))), '' ORDER BY n) "
        f"FROM regexp_matches({value}, '([{SAFE}]+)|(.)', 'g') WITH ORDINALITY AS r(m, n)"
        ") END"
    )


def url(store: str, root: str, key: str) -> str:
    """``Location.url`` of a copy in object storage, as JSON: the object's URL (a slice's
    is its pack's, with the bytes to ask for after ``#``). ``store`` is the object
    store's URL without its trailing ``/``, already escaped as in a JSON string
    (``inside_string``): what ``quote`` writes needs no escaping, so the URL is not
    passed through ``to_json``."""
    base = f"'\"' || {store} || '/' || {quote(root)} || '/' || "
    pack = f"substring({key} from {constant(SLICE)})"
    offset = f"substring({key} from '#([0-9]+)\\+[0-9]+$')::numeric"
    size = f"substring({key} from '\\+([0-9]+)$')::numeric"
    return (
        f"CASE WHEN strpos({key}, '#') > 0 AND {key} ~ {constant(SLICE)} THEN {base}"
        f"{quote(pack)} || '#bytes=' || {offset} || '-' || ({offset} + {size} - 1) || '\"' "
        f"ELSE {base}{quote(key)} || '\"' END"
    )


def inside_string(text: str) -> str:
    """``text`` as pydantic-core writes it inside a JSON string (without the quotes)."""
    return to_json(text).decode()[1:-1]


def json_object(*fields: tuple[str, str]) -> str:
    """An object of these fields in this order, compact, from their values' JSON."""
    parts = [
        constant(("," if number else "{") + json.dumps(name) + ":") + " || " + value
        for number, (name, value) in enumerate(fields)
    ]
    return "(" + " || ".join(parts) + " || '}')"
