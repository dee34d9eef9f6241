"""Shared by the event tests: a typical event and throwaway schema folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from events.base import event_id_for
from events.requests import PutRequested

ENVELOPE_FIELDS: list[dict[str, Any]] = [
    {"name": "event_id", "type": "string", "doc": "Deterministic id."},
    {"name": "transaction_id", "type": "string", "doc": "The request."},
    {"name": "user", "type": "string", "doc": "Who."},
    {"name": "group", "type": "string", "doc": "Their group."},
    {"name": "cause_id", "type": ["null", "string"], "default": None, "doc": "The cause."},
    {"name": "occurred_at", "type": "long", "doc": "Epoch milliseconds."},
]


def typical_put(n: int = 0) -> PutRequested:
    """The benchmark's event: three paths, a label and two tags."""
    transaction = event_id_for("transaction", str(n))
    return PutRequested(
        event_id=event_id_for("put", transaction),
        transaction_id=transaction,
        user="alice",
        group="climate",
        cause_id=None,
        occurred_at=1_700_000_000_000 + n,
        label="run-42",
        holding_id=None,
        tags={"model": "ukesm", "experiment": "ssp585"},
        paths=[b"/gws/climate/run42/a.nc", b"/gws/climate/run42/b.nc", b"/gws/\xff-raw.nc"],
        path_list_file=None,
        job_label="nightly",
        api_action="put",
    )


def write_schema(
    folder: Path,
    family: str,
    name: str,
    version: int,
    fields: list[dict[str, Any]],
    *,
    doc: str = "A test event.",
    envelope: bool = True,
    namespace: str | None = None,
) -> Path:
    """Write ``<folder>/<family>/<name>.v<version>.avsc`` and return its path."""
    schema = {
        "type": "record",
        "namespace": namespace or f"nearline.{family}",
        "name": name,
        "doc": doc,
        "fields": (ENVELOPE_FIELDS if envelope else []) + fields,
    }
    path = folder / family / f"{name}.v{version}.avsc"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2))
    return path


def envelope_values(n: int = 0) -> dict[str, Any]:
    """Envelope field values for a test event."""
    return {
        "event_id": event_id_for("test", str(n)),
        "transaction_id": "tx",
        "user": "alice",
        "group": "climate",
        "cause_id": None,
        "occurred_at": 1_700_000_000_000 + n,
    }
