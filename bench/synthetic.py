"""Synthetic catalog facts for the benches: the facts of one PUT as the decider writes
them (HoldingCreated when the holding is new, TransactionAccepted, FilesReserved,
FilesCataloged, TransactionFinished), for the replay and the decider benches alike."""

from __future__ import annotations

import hashlib
from typing import Any

from events.base import Event, event_id_for
from events.catalog import (
    FilesCataloged,
    FilesReserved,
    HoldingCreated,
    TransactionAccepted,
    TransactionFinished,
)

GROUP = "bench"


def envelope(tx: str, step: str, user: str, occurred_at: int) -> dict[str, Any]:
    """The envelope of ``step`` of transaction ``tx``; every step but the request itself
    is caused by the request."""
    return {
        "event_id": event_id_for(tx, step),
        "transaction_id": tx,
        "user": user,
        "group": GROUP,
        "cause_id": None if step == "requested" else event_id_for(tx, "requested"),
        "occurred_at": occurred_at,
    }


def file_entry(path: bytes, size: int, mtime_ns: int) -> dict[str, Any]:
    """A regular file as the indexer reports it."""
    return {
        "path": path,
        "path_type": "FILE",
        "link_path": None,
        "size": size,
        "mode": 0o100644,
        "uid": 1000,
        "gid": 1000,
        "mtime_ns": mtime_ns,
    }


def put_facts(
    tx: str,
    user: str,
    holding: int,
    label: str,
    files: list[dict[str, Any]],
    object_keys: list[str],
    occurred_at: int,
    new_holding: bool = True,
) -> list[Event]:
    """The catalog facts of one PUT of ``files`` (one sub-batch) into ``holding``, each
    stored under its object key."""

    def step(name: str) -> dict[str, Any]:
        return envelope(tx, name, user, occurred_at)

    facts: list[Event] = []
    if new_holding:
        facts.append(HoldingCreated(**step("holding"), holding_id=holding, label=label, tags={}))
    facts += [
        TransactionAccepted(
            **step("accepted"),
            api_action="put",
            job_label=tx[:8],
            holding_id=holding,
            label=label,
        ),
        FilesReserved(
            **step("reserved/0"),
            holding_id=holding,
            sub_batch=0,
            last=True,
            files=files,  # type: ignore[arg-type]
            refused=[],
        ),
        FilesCataloged(
            **step("cataloged/0"),
            holding_id=holding,
            sub_batch=0,
            files=[
                {
                    **f,  # type: ignore[typeddict-item]
                    "object_key": key,
                    "adler32": f"{i:08x}",
                    "sha256": hashlib.sha256(f["path"]).hexdigest(),
                }
                for i, (f, key) in enumerate(zip(files, object_keys, strict=True))
            ],
            failed=[],
        ),
        TransactionFinished(
            **step("finished"),
            api_action="put",
            state="COMPLETE",
            files_ok=len(files),
            files_failed=0,
            bytes_ok=sum(f["size"] for f in files),
        ),
    ]
    return facts
