"""What SciCat learns of an archived dataset: a datablock per tape aggregate the
dataset's files went into (``archiveId`` = the aggregate, so a datablock is the unit
that is written to and recalled from tape; decision D174), each listing its files
relative to the dataset's ``sourceFolder`` as SciCat's origdatablocks do."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from processors.scicat.ports import HeldFile

TAPE = "TAPE"
CHECKSUM = "sha256"
VERSION = "nearline-1"


def source_paths(source_folder: str, origdatablocks: Sequence[dict[str, Any]]) -> list[bytes]:
    """The absolute, normalised paths of the dataset's files: origdatablock paths are
    relative to the dataset's ``sourceFolder`` (an absolute one is taken as it is)."""
    folder = os.fsencode(source_folder.rstrip("/"))
    paths: set[bytes] = set()
    for block in origdatablocks:
        for entry in block.get("dataFileList", []):
            path = os.fsencode(entry["path"])
            joined = path if path.startswith(b"/") else folder + b"/" + path.lstrip(b"/")
            paths.add(os.path.normpath(joined))
    return sorted(paths)


def outside(source_folder: str, paths: Sequence[bytes]) -> list[bytes]:
    """The paths not below the dataset's ``sourceFolder`` (all of them, if that is not
    an absolute folder): whoever may edit a dataset's records must not make nearline
    read files beyond its folder."""
    folder = os.path.normpath(os.fsencode(source_folder)) if source_folder else b""
    if not folder.startswith(b"/"):
        return list(paths)
    below = folder.rstrip(b"/") + b"/"
    return [p for p in paths if not p.startswith(below)]


def on_tape(files: Sequence[HeldFile], wanted: Sequence[bytes]) -> bool:
    """Every wanted file is cataloged with a tape copy."""
    taped = {f.path for f in files if any(c.storage_type == TAPE for c in f.locations)}
    return set(wanted) <= taped


def datablocks(
    files: Sequence[HeldFile], wanted: Sequence[bytes], source_folder: str
) -> list[dict[str, Any]]:
    """The datablocks to post: one per aggregate holding wanted files."""
    by_aggregate: dict[str, list[HeldFile]] = defaultdict(list)
    chosen = set(wanted)
    for f in files:
        if f.path in chosen:
            tape = next(c for c in f.locations if c.storage_type == TAPE)
            by_aggregate[tape.root].append(f)
    folder = os.fsencode(source_folder.rstrip("/")) + b"/"
    blocks = []
    for aggregate, members in sorted(by_aggregate.items()):
        size = sum(f.size for f in members)
        blocks.append(
            {
                "archiveId": aggregate,
                "size": size,
                "packedSize": size,  # an aggregate is an uncompressed tar: its content
                "chkAlg": CHECKSUM,
                "version": VERSION,
                "dataFileList": [_entry(f, folder) for f in sorted(members, key=lambda f: f.path)],
            }
        )
    return blocks


def _entry(f: HeldFile, folder: bytes) -> dict[str, Any]:
    path = f.path[len(folder) :] if f.path.startswith(folder) else f.path
    return {
        "path": os.fsdecode(path),
        "size": f.size,
        "time": datetime.fromtimestamp(f.mtime_ns / 1e9, UTC).isoformat(),
        "chk": f.checksums.get("SHA256", ""),  # the catalog names it in capitals
        "uid": str(f.uid),
        "gid": str(f.gid),
        "perm": oct(f.mode & 0o7777),
        "type": "file",
    }
