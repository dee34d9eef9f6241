"""Every schema version in ``schemas/``, by fingerprint and by name, and the event classes.

A schema file is ``schemas/<family>/<Name>.v<N>.avsc``; versions are kept forever, so any
record ever written can find its writer schema here by the fingerprint in its header.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

from events.base import Event, registered_event_class
from events.fingerprint import schema_fingerprint

SCHEMAS_FOLDER = Path(__file__).resolve().parent.parent / "schemas"
"""The repository's ``schemas/`` folder."""

MARKER = b"\xc3\x01"
"""The two bytes that open every Avro single-object encoded record."""

FILE_NAME = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


class SchemaFileError(ValueError):
    """A schema file that cannot be part of the registry."""


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One version of one schema, as loaded from its file."""

    name: str
    """Full Avro name, e.g. ``nearline.requests.PutRequested``."""
    version: int
    path: Path
    source: dict[str, Any]
    """The file's JSON, unparsed (docs and defaults included)."""
    parsed: dict[str, Any]
    """fastavro's parsed form, ready for its readers and writers."""
    canonical: str
    """Parsing Canonical Form: what the fingerprint is computed from."""
    fingerprint: bytes
    """CRC-64-AVRO of ``canonical``, 8 bytes little-endian, as in the record header."""

    @property
    def fingerprint_hex(self) -> str:
        """The fingerprint bytes in hex, in header order (as ``fastavro.schema.fingerprint``
        spells it); the key of the ``_schemas`` topic."""
        return self.fingerprint.hex()

    @property
    def header(self) -> bytes:
        """The 10-byte single-object header of records written with this version."""
        return MARKER + self.fingerprint

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the record's fields, in order."""
        return tuple(field["name"] for field in self.parsed["fields"])


def load_schema_file(path: Path) -> SchemaVersion:
    """Read, parse and fingerprint one ``<Name>.v<N>.avsc`` file.

    Raises ``SchemaFileError`` when the file name lacks a version, does not match the
    schema's name, or the file is not a valid Avro record schema.
    """
    match = FILE_NAME.match(path.name)
    if match is None:
        raise SchemaFileError(f"{path}: the file name must be <Name>.v<N>.avsc")
    try:
        source = json.loads(path.read_text(encoding="utf-8"))
        # A fresh name table per file: two versions of one name are distinct schemas.
        parsed = parse_schema(source, named_schemas={})
        canonical = to_parsing_canonical_form(source)
    except Exception as error:  # fastavro raises many kinds; all mean "not a schema"
        raise SchemaFileError(f"{path}: not a valid Avro schema: {error}") from error
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise SchemaFileError(f"{path}: an event schema must be a record")
    if parsed["name"].rpartition(".")[2] != match["name"]:
        raise SchemaFileError(f"{path}: the schema is named {parsed['name']}, not {match['name']}")
    return SchemaVersion(
        name=parsed["name"],
        version=int(match["version"]),
        path=path,
        source=source,
        parsed=parsed,
        canonical=canonical,
        fingerprint=schema_fingerprint(canonical),
    )


def schema_files(folder: Path) -> list[Path]:
    """Every ``.avsc`` file under ``folder``, in a stable order."""
    return sorted(folder.rglob("*.avsc"))


class SchemaRegistry:
    """The schema versions of one folder, loaded once.

    ``classes`` adds event classes that are not registered with ``@event_type`` (tests use
    it for throwaway schemas); otherwise a name's class is the registered one, importing
    ``events.<family>`` for namespace ``nearline.<family>`` when needed.
    """

    def __init__(self, folder: Path | str = SCHEMAS_FOLDER, classes: Iterable[type[Event]] = ()):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            # An empty registry would turn every record into an unknown fingerprint.
            raise SchemaFileError(f"{self.folder}: no such schema folder")
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        self._by_name: dict[str, list[SchemaVersion]] = {}
        self._classes = {cls.schema_name: cls for cls in classes}
        for path in schema_files(self.folder):
            self._add(load_schema_file(path))
        for history in self._by_name.values():
            history.sort(key=lambda v: v.version)

    def _add(self, version: SchemaVersion) -> None:
        same = self._by_fingerprint.get(version.fingerprint)
        if same is not None:
            raise SchemaFileError(
                f"{version.path}: same canonical form as {same.path}; a new version must differ"
            )
        history = self._by_name.setdefault(version.name, [])
        if any(v.version == version.version for v in history):
            raise SchemaFileError(f"{version.path}: a second v{version.version} of {version.name}")
        history.append(version)
        self._by_fingerprint[version.fingerprint] = version

    def names(self) -> list[str]:
        """Every full schema name, sorted."""
        return sorted(self._by_name)

    def versions(self) -> list[SchemaVersion]:
        """Every version of every schema, by name then version."""
        return [v for name in self.names() for v in self._by_name[name]]

    def history(self, name: str) -> list[SchemaVersion]:
        """Every version of ``name``, oldest first. Raises KeyError for an unknown name."""
        return list(self._by_name[name])

    def latest(self, name: str) -> SchemaVersion:
        """The newest version of ``name``: what events are written with and read as."""
        return self._by_name[name][-1]

    def find(self, fingerprint: bytes) -> SchemaVersion | None:
        """The version whose 8 little-endian fingerprint bytes are ``fingerprint``."""
        return self._by_fingerprint.get(fingerprint)

    def by_fingerprint(self, fingerprint: bytes) -> SchemaVersion:
        """Like ``find`` but raises KeyError for an unknown fingerprint."""
        version = self._by_fingerprint.get(fingerprint)
        if version is None:
            raise KeyError(f"unknown schema fingerprint {fingerprint.hex()}")
        return version

    def event_class(self, name: str) -> type[Event]:
        """The event class of the full schema name ``name``. Raises LookupError if none."""
        cls = self._classes.get(name) or registered_event_class(name)
        if cls is None:
            _import_family(name)
            cls = registered_event_class(name)
        if cls is None:
            raise LookupError(f"no event class for schema {name}")
        return cls

    def canonical_forms(self) -> dict[str, str]:
        """Fingerprint hex to Parsing Canonical Form for every version: the content of the
        ``_schemas`` topic, which lets any reader of the log find every writer schema."""
        return {v.fingerprint_hex: v.canonical for v in self.versions()}


def _import_family(name: str) -> None:
    """Import ``events.<family>`` for ``nearline.<family>.<Name>``, which registers its
    classes, so that decoding does not depend on what the caller happened to import."""
    namespace, _, _ = name.rpartition(".")
    prefix, _, family = namespace.partition(".")
    if prefix != "nearline" or not family.isidentifier():
        return
    try:
        importlib.import_module(f"events.{family}")
    except ModuleNotFoundError as error:
        if error.name != f"events.{family}":
            raise


@cache
def default_registry() -> SchemaRegistry:
    """The registry of the repository's ``schemas/`` folder, loaded on first use."""
    return SchemaRegistry(SCHEMAS_FOLDER)
