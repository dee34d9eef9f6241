"""Query results in the shapes the NLDS client reads (inside the 202 JSON string)."""

from __future__ import annotations

from typing import Any

from api.nlds.wire import iso
from api.paths import path_text
from api.queries.holdings import Holding
from api.queries.transactions import SubRecord, TransactionStatus
from domain.states import FINAL, State
from projections.queries.files import FoundFile, Location

FAILING = frozenset({State.FAILED, State.COMPLETE_WITH_ERRORS})
"""Final states the client shows only when a sub-record is FAILED."""


def holding(h: Holding) -> dict[str, Any]:
    return {
        "id": h.id,
        "label": h.label,
        "user": h.user,
        "group": h.group,
        "tags": h.tags,
        "transactions": h.transactions,
        "date": iso(h.created_at),
    }


def found_files(files: list[FoundFile], object_store_url: str) -> dict[str, Any]:
    """``{label: {label, holding_id, user, group, transactions: {id: {...}}}}``."""
    by_holding: dict[int, dict[str, Any]] = {}
    keys: dict[str, int] = {}
    for f in files:
        entry = by_holding.get(f.holding_id)
        if entry is None:
            entry = {
                "label": f.label,
                "holding_id": f.holding_id,
                "user": f.user,
                "group": f.group,
                "transactions": {},
            }
            by_holding[f.holding_id] = entry
            # Keyed by label as NLDS does; two users' holdings (groupall) may share one.
            key = f.label if f.label not in keys else f"{f.label} ({f.holding_id})"
            keys[key] = f.holding_id
        transaction = entry["transactions"].setdefault(
            f.transaction_id,
            {
                "transaction_id": f.transaction_id,
                "ingest_time": iso(f.ingest_time),
                "filelist": [],
            },
        )
        transaction["filelist"].append(_file(f, object_store_url))
    return {key: by_holding[holding_id] for key, holding_id in keys.items()}


def _file(f: FoundFile, object_store_url: str) -> dict[str, Any]:
    return {
        "original_path": path_text(f.path),
        "path_type": f.path_type,
        "link_path": path_text(f.link_path) if f.link_path is not None else None,
        "size": f.size,
        "user": f.uid,
        "group": f.gid,
        "permissions": f.mode & 0o777,
        "holding_id": f.holding_id,
        "checksums": f.checksums,
        "locations": [_location(loc, object_store_url) for loc in f.locations],
    }


def _location(loc: Location, object_store_url: str) -> dict[str, Any]:
    return {
        "storage_type": loc.storage_type,
        "root": loc.root,
        "path": loc.path,
        "access_time": iso(loc.access_time),
        "url": loc.url(object_store_url),
    }


def transaction(tx: TransactionStatus, only_sub: bool = False) -> dict[str, Any]:
    """A status record, with sub-records from which the client computes the state and
    the share done that nearline knows (see ``sub_records``)."""
    return {
        "id": tx.id,
        "transaction_id": tx.transaction_id,
        "user": tx.user,
        "group": tx.group,
        "job_label": tx.job_label,
        "api_action": tx.api_action,
        "creation_time": iso(tx.creation_time),
        "warnings": tx.warnings,
        "label": tx.label or "",
        "holding_id": tx.holding_id if tx.holding_id is not None else -1,
        "state": tx.state.name,
        "sub_records": sub_records(tx, only_sub),
    }


def sub_records(tx: TransactionStatus, only_sub: bool = False) -> list[dict[str, Any]]:
    """Sub-records in NLDS's terms, because the client shows the lowest state among them
    and counts the COMPLETE ones as the share done:

    - a sub-batch with failed and stored files is two sub-records, COMPLETE and FAILED
      (as NLDS splits one), so that the client shows COMPLETE_WITH_ERRORS and a share
      done instead of ``0%``;
    - the transaction's own state is added as a sub-record only where the sub-batches
      cannot tell it: none yet, all settled while the transaction goes on (more to
      index), or a failure that no sub-batch shows. Added always, it hid every
      sub-batch's progress behind INDEXING or ROUTING.
    """
    subs = [part for sub in tx.sub_records for part in _parts(sub)]
    if only_sub:
        return subs
    if tx.state in FINAL:
        failed = any(s["state"] == State.FAILED.name for s in subs)
        if subs and (tx.state not in FAILING or failed):
            return subs
        own = State.FAILED if subs else tx.state
    elif subs and any(sub.state not in FINAL for sub in tx.sub_records):
        return subs
    else:
        own = tx.state
    return [_own(tx, own), *subs]


def _parts(sub: SubRecord) -> list[dict[str, Any]]:
    """One sub-batch as the client counts it: split in two when it failed in part."""
    record = {
        "id": sub.sub_id + 1,
        "sub_id": str(sub.sub_id),
        "state": sub.state.name,
        "retry_count": sub.retries,
        "last_updated": iso(sub.last_updated),
        "failed_files": [
            {"filepath": path_text(ff.path), "reason": ff.reason} for ff in sub.failed_files
        ],
    }
    if sub.state != State.COMPLETE_WITH_ERRORS:
        return [record]
    stored = record | {"state": State.COMPLETE.name, "failed_files": []}
    failed = record | {"sub_id": f"{sub.sub_id}-failed", "state": State.FAILED.name}
    return [stored, failed]


def _own(tx: TransactionStatus, state: State) -> dict[str, Any]:
    return {
        "id": 0,
        "sub_id": "transaction",
        "state": state.name,
        "retry_count": 0,
        "last_updated": iso(tx.last_updated),
        "failed_files": [],
    }
