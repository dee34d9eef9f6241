"""Query results as nearline's own API shows them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from api.paths import path_b64, path_text
from api.queries.holdings import Holding
from api.queries.transactions import Figures, TransactionStatus
from api.v1.models import (
    FailedFileOut,
    FileOut,
    HoldingOut,
    LocationOut,
    ProgressOut,
    SubRecordOut,
    TransactionOut,
    when,
)
from domain.states import OBJECT_STORAGE, State
from projections.queries.files import FoundFile, Location


def holding(h: Holding) -> HoldingOut:
    return HoldingOut(
        id=h.id,
        label=h.label,
        user=h.user,
        group=h.group,
        tags=h.tags,
        transactions=h.transactions,
        created_at=when(h.created_at),
    )


def found_file(f: FoundFile, object_store_url: str) -> FileOut:
    return FileOut(
        holding_id=f.holding_id,
        label=f.label,
        user=f.user,
        group=f.group,
        transaction_id=f.transaction_id,
        ingest_time=when(f.ingest_time),
        path=path_text(f.path),
        path_b64=path_b64(f.path),
        path_type=f.path_type,
        link_path=path_text(f.link_path) if f.link_path is not None else None,
        link_path_b64=path_b64(f.link_path) if f.link_path is not None else None,
        size=f.size,
        mode=f.mode,
        uid=f.uid,
        gid=f.gid,
        mtime_ns=f.mtime_ns,
        checksums=f.checksums,
        locations=[
            LocationOut(
                storage_type=loc.storage_type,
                root=loc.root,
                path=loc.path,
                access_time=when(loc.access_time),
                url=loc.url(object_store_url),
            )
            for loc in f.locations
        ],
    )


def listed_file(
    row: Sequence[Any],
    checksums: dict[str, str],
    locations: Sequence[tuple[str, str, str, int]],
    object_store_url: str,
) -> dict[str, Any]:
    """``found_file`` as plain values in ``FileOut``'s order, from a row of
    ``api.queries.file_pages`` (its ``FILE_COLUMNS``): pydantic-core's ``to_json`` writes
    them as the same bytes as the model, without two models per file of a stream (D200)."""
    (_id, holding_id, label, user, group, transaction_id, ingest_time, path, path_type,
     link_path, size, mode, uid, gid, mtime_ns) = row  # fmt: skip
    return {
        "holding_id": holding_id,
        "label": label,
        "user": user,
        "group": group,
        "transaction_id": transaction_id,
        "ingest_time": _moment(ingest_time),
        "path": path_text(path),
        "path_b64": path_b64(path),
        "path_type": path_type,
        "link_path": path_text(link_path) if link_path is not None else None,
        "link_path_b64": path_b64(link_path) if link_path is not None else None,
        "size": size,
        "mode": mode,
        "uid": uid,
        "gid": gid,
        "mtime_ns": mtime_ns,
        "checksums": checksums,
        "locations": [
            {
                "storage_type": storage_type,
                "root": root,
                "path": key,
                "access_time": _moment(access_time),
                "url": _url(object_store_url, storage_type, root, key),
            }
            for storage_type, root, key, access_time in locations
        ],
    }


def _url(object_store_url: str, storage_type: str, root: str, key: str) -> str | None:
    """``Location.url`` without a ``Location`` per copy, the bucket's part made once."""
    if storage_type != OBJECT_STORAGE:
        return None
    if "#" in key:  # perhaps a slice of a pack: Location knows how it is read
        return Location(storage_type, root, key, 0).url(object_store_url)
    return _bucket_url(object_store_url, root) + quote(key)


@lru_cache(maxsize=256)
def _bucket_url(object_store_url: str, root: str) -> str:
    return f"{object_store_url.rstrip('/')}/{quote(root)}/"


@lru_cache(maxsize=4096)
def _moment(ms: int) -> datetime:
    # The files of one PUT share their ingest time, and many their access time.
    return when(ms)


def transaction(tx: TransactionStatus) -> TransactionOut:
    return TransactionOut(
        id=tx.id,
        transaction_id=tx.transaction_id,
        user=tx.user,
        group=tx.group,
        api_action=tx.api_action,
        job_label=tx.job_label,
        label=tx.label,
        holding_id=tx.holding_id,
        state=tx.state.name,
        state_value=tx.state.value,
        warnings=tx.warnings,
        created_at=when(tx.creation_time),
        last_updated=when(tx.last_updated),
        sub_records=[
            SubRecordOut(
                sub_id=s.sub_id,
                state=s.state.name,
                state_value=s.state.value,
                retries=s.retries,
                last_updated=when(s.last_updated),
                failed_files=[
                    FailedFileOut(
                        path=path_text(ff.path), path_b64=path_b64(ff.path), reason=ff.reason
                    )
                    for ff in s.failed_files
                ],
                progress=_progress(s.progress, s.progress_state),
            )
            for s in tx.sub_records
        ],
        progress=_progress(tx.progress, None),
    )


def _progress(figures: Figures | None, state: State | None) -> ProgressOut | None:
    if figures is None:
        return None
    return ProgressOut(
        state=state.name if state is not None else None,
        files_done=figures.files_done,
        files_total=figures.files_total,
        bytes_done=figures.bytes_done,
        bytes_total=figures.bytes_total,
    )
