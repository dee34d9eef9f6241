"""Test vectors: records written with each exact schema version, kept forever.

``tests/vectors/<family>/<Name>.v<N>.bin`` holds a few single-object records written by
fastavro with that version (the deterministic samples of ``events.samples``), each
preceded by its length as 4 big-endian bytes. The tests decode every vector with the
current code: that is how "every version ever written stays readable" is tested.

``python -m events.vectors`` lists versions without vectors (exit 1 if any);
``python -m events.vectors --write`` writes them. Existing vectors are never overwritten.
"""

from __future__ import annotations

import argparse
import sys
from io import BytesIO
from pathlib import Path

from fastavro import schemaless_writer

from events.registry import SchemaRegistry, SchemaVersion, default_registry
from events.samples import sample_records

VECTORS_FOLDER = Path(__file__).resolve().parent.parent / "tests" / "vectors"


def vector_path(
    version: SchemaVersion, registry: SchemaRegistry, folder: Path = VECTORS_FOLDER
) -> Path:
    """Where the vectors of ``version`` live: its schema's path, under ``folder``."""
    relative = version.path.relative_to(registry.folder)
    return folder / relative.with_suffix(".bin")


def encode_vectors(version: SchemaVersion) -> bytes:
    """The length-prefixed single-object records of ``version``'s samples."""
    out = bytearray()
    for record in sample_records(version.parsed):
        body = BytesIO()
        schemaless_writer(body, version.parsed, record)
        data = version.header + body.getvalue()
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


def read_vectors(path: Path) -> list[bytes]:
    """The records of a vector file."""
    data = path.read_bytes()
    records, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        records.append(data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    if pos != len(data):
        raise ValueError(f"{path}: the last record is cut short")
    return records


def missing(registry: SchemaRegistry, folder: Path = VECTORS_FOLDER) -> list[SchemaVersion]:
    """Versions that have no vector file yet."""
    return [v for v in registry.versions() if not vector_path(v, registry, folder).exists()]


def write_missing(registry: SchemaRegistry, folder: Path = VECTORS_FOLDER) -> list[Path]:
    """Write vectors for every version without; return the files written."""
    written = []
    for version in missing(registry, folder):
        path = vector_path(version, registry, folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as out:  # "x": never replace a vector
            out.write(encode_vectors(version))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m events.vectors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--write", action="store_true", help="write vectors for versions that have none"
    )
    args = parser.parse_args(argv)
    registry = default_registry()
    if args.write:
        for path in write_missing(registry):
            print(f"wrote {path}")
        return 0
    absent = missing(registry)
    for version in absent:
        print(
            f"no vectors for {version.name} v{version.version}: "
            "run `python -m events.vectors --write`"
        )
    return 1 if absent else 0


if __name__ == "__main__":
    sys.exit(main())
