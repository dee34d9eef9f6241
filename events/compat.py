"""Refuses schema changes that would break reading data already written.

``python -m events.compat`` (``make schema-check``) checks the schema folder:

1. versions are immutable: every file in ``schemas/fingerprints.lock`` still exists with
   the same fingerprint, and a new file fails until ``--update`` locks it;
2. the latest version of every name reads samples written with each older version (every
   union branch, map, array, bytes and enum), and builds its event class from them;
3. each file follows the layout: namespace from its folder, name and ``.v<N>`` from its
   file name, versions numbered from 1 without gaps, a doc on every record and field, the
   envelope fields first, no field that looks like a secret;
4. each name has an event class whose fields mirror its latest version.

Exits 1 with the list of problems, 0 when there is none.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import fields
from io import BytesIO
from pathlib import Path
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from events.base import ENVELOPE, Event
from events.codec import Codec, UndecodableRecord
from events.registry import (
    SCHEMAS_FOLDER,
    SchemaFileError,
    SchemaRegistry,
    SchemaVersion,
    load_schema_file,
    schema_files,
)
from events.samples import sample_records

LOCK_NAME = "fingerprints.lock"
ENVELOPE_TYPES: dict[str, Any] = dict(
    zip(ENVELOPE, ("string", "string", "string", "string", ["null", "string"], "long"), strict=True)
)
"""The Avro type of each envelope field, as written in every schema file."""
SECRET = re.compile(r"passw|secret|token|credential|private_key|access_key|api_key", re.I)


def check(
    folder: Path = SCHEMAS_FOLDER,
    lock: Path | None = None,
    update: bool = False,
    classes: Iterable[type[Event]] = (),
) -> list[str]:
    """Every problem of the schema folder, as lines for a person to read. With
    ``update``, new files are added to the lock when nothing else is wrong. ``classes``
    are event classes not registered with ``@event_type`` (see ``SchemaRegistry``)."""
    lock = lock if lock is not None else folder / LOCK_NAME
    problems: list[str] = []
    versions: list[SchemaVersion] = []
    for path in schema_files(folder):
        try:
            versions.append(load_schema_file(path))
        except SchemaFileError as error:
            problems.append(str(error))
    loaded = not problems  # the registry checks need every file to load
    for version in versions:
        problems += layout_problems(version, folder)
    if loaded:
        try:
            registry = SchemaRegistry(folder, classes)
        except SchemaFileError as error:
            problems.append(str(error))
        else:
            problems += numbering_problems(registry)
            problems += class_problems(registry)
            problems += evolution_problems(registry)
    try:
        locked = read_lock(lock)
    except ValueError as error:  # never rewrite a lock that cannot be read
        return [*problems, f"{lock}: not a valid lock file ({error}); restore it from git"]
    problems += lock_problems(versions, folder, locked)
    new = {_key(v, folder): v.fingerprint_hex for v in versions if _key(v, folder) not in locked}
    if new and not update:
        problems += [
            f"{_shown(folder / key, folder)}: not in {lock.name} yet; once it is "
            "final, run `python -m events.compat --update` to lock it"
            for key in sorted(new)
        ]
    elif new and not problems:
        write_lock(lock, {**locked, **new})
        print(f"locked {len(new)} new schema version(s) in {lock}")
    return problems


def read_lock(lock: Path) -> dict[str, str]:
    """The lock file: schema file path (relative to the folder) to fingerprint hex."""
    if not lock.exists():
        return {}
    entries: dict[str, str] = json.loads(lock.read_text(encoding="utf-8"))
    return entries


def write_lock(lock: Path, entries: dict[str, str]) -> None:
    """Write the lock file, sorted, so that its diffs are one line per new version."""
    lock.write_text(json.dumps(dict(sorted(entries.items())), indent=2) + "\n", encoding="utf-8")


def lock_problems(versions: list[SchemaVersion], folder: Path, locked: dict[str, str]) -> list[str]:
    """Locked versions that were edited or deleted."""
    current = {_key(v, folder): v.fingerprint_hex for v in versions}
    problems = []
    for key, fingerprint in sorted(locked.items()):
        if key not in current:
            if not (folder / key).exists():
                problems.append(
                    f"{_shown(folder / key, folder)}: a locked schema version "
                    "was deleted; "
                    "versions are kept forever"
                )
        elif current[key] != fingerprint:
            problems.append(
                f"{_shown(folder / key, folder)}: a locked schema version was edited (fingerprint "
                f"{current[key]}, locked {fingerprint}); put the change in a new version file"
            )
    return problems


def layout_problems(version: SchemaVersion, folder: Path) -> list[str]:
    """Namespace, docs, envelope and secrets of one file."""
    where = _shown(version.path, folder)
    problems = []
    family = version.path.parent.relative_to(folder).parts
    namespace = version.name.rpartition(".")[0]
    if not family or namespace != ".".join(("nearline", *family)):
        problems.append(
            f"{where}: namespace {namespace!r} does not match its folder; "
            f"expected {'.'.join(('nearline', *family))!r}"
        )
    for path, kind, node in _documented(version.source, version.name):
        if not isinstance(node.get("doc"), str) or not node["doc"].strip():
            problems.append(f"{where}: {kind} {path} has no doc")
        if kind == "field" and SECRET.search(str(node.get("name", ""))):
            problems.append(
                f"{where}: field {path} looks like a secret; events never carry secrets"
            )
    declared = version.source.get("fields", [])
    head = [(f.get("name"), f.get("type")) for f in declared[: len(ENVELOPE_TYPES)]]
    if head != list(ENVELOPE_TYPES.items()):
        problems.append(
            f"{where}: the first fields must be the envelope "
            + ", ".join(f"{n}: {json.dumps(t)}" for n, t in ENVELOPE_TYPES.items())
        )
    return problems


def _documented(node: Any, path: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, "record" or "field", node) for every record and field, nested ones too."""
    if isinstance(node, list):
        for branch in node:
            yield from _documented(branch, path)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind == "record":
            yield path, "record", node
            for field in node.get("fields", []):
                where = f"{path}.{field.get('name')}"
                yield where, "field", field
                yield from _documented(field.get("type"), where)
        elif kind == "array":
            yield from _documented(node.get("items"), path)
        elif kind == "map":
            yield from _documented(node.get("values"), path)
        elif isinstance(kind, (dict, list)):
            yield from _documented(kind, path)


def numbering_problems(registry: SchemaRegistry) -> list[str]:
    """Versions of each name must be 1, 2, ... without a gap."""
    problems = []
    for name in registry.names():
        numbers = [v.version for v in registry.history(name)]
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{name}: versions {numbers} must be numbered 1, 2, ... without gaps")
    return problems


def class_problems(registry: SchemaRegistry) -> list[str]:
    """Each name needs an event class that mirrors its latest version."""
    problems = []
    for name in registry.names():
        latest = registry.latest(name)
        try:
            cls = registry.event_class(name)
        except LookupError:
            family = name.split(".")[1]
            problems.append(
                f"{name}: no event class; declare one with @event_type in events/{family}.py"
            )
            continue
        names = tuple(f.name for f in fields(cls))
        if names != latest.field_names:
            problems.append(
                f"{name}: class {cls.__qualname__} has fields {names}, but "
                f"{latest.path.name} has {latest.field_names}"
            )
    return problems


def evolution_problems(registry: SchemaRegistry) -> list[str]:
    """The latest version of each name must read what every older version wrote."""
    codec = Codec(registry)
    problems = []
    for name in registry.names():
        latest = registry.latest(name)
        for old in registry.history(name)[:-1]:
            for number, record in enumerate(sample_records(old.parsed)):
                problem = _read_back(codec, old, latest, record)
                if problem:
                    problems.append(
                        f"{name}: v{latest.version} cannot read v{old.version} "
                        f"data (sample {number}): {problem}"
                    )
                    break
    return problems


def _read_back(
    codec: Codec, old: SchemaVersion, latest: SchemaVersion, record: dict[str, Any]
) -> str | None:
    body = BytesIO()
    schemaless_writer(body, old.parsed, record)
    try:
        data = body.getvalue()
        reread = BytesIO(data)
        schemaless_reader(reread, old.parsed, latest.parsed)
        if reread.tell() != len(data):
            return f"{len(data) - reread.tell()} bytes left unread"
    except Exception as error:  # any failure to resolve is the problem to report
        return f"{type(error).__name__}: {error}"
    try:
        codec.decode(old.header + data)
    except UndecodableRecord as error:
        return str(error)
    except (LookupError, TypeError):
        return None  # a missing or mismatched class: class_problems reports it
    return None


def _shown(path: Path, folder: Path) -> str:
    """``path`` as a person finds it: from the folder's parent, e.g. schemas/a/B.v1.avsc."""
    return path.relative_to(folder.parent).as_posix()


def _key(version: SchemaVersion, folder: Path) -> str:
    return version.path.relative_to(folder).as_posix()


def main(argv: list[str] | None = None) -> int:
    """The command line: print the problems and return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m events.compat",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--schemas",
        type=Path,
        default=SCHEMAS_FOLDER,
        help="the schema folder (default: the repository's schemas/)",
    )
    parser.add_argument("--lock", type=Path, help=f"the lock file (default: <schemas>/{LOCK_NAME})")
    parser.add_argument(
        "--update", action="store_true", help="lock new schema files, if nothing else is wrong"
    )
    args = parser.parse_args(argv)
    problems = check(args.schemas.resolve(), args.lock, args.update)
    if problems:
        print(f"schema check failed: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    count = len(schema_files(args.schemas))
    print(f"schema check: {count} schema version(s) in {args.schemas}, ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
