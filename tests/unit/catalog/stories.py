"""Shared steps of the decider's stories: requests and reports as users and workers
would send them."""

from __future__ import annotations

from events.catalog import FilesReserved
from events.reports import FilesTransferred, ObjectsDeleted
from events.requests import DeleteRequested, MetaRequested
from processors.catalog.decider import Decider
from tests.unit.catalog.test_decider import envelope, indexed, of_type, put


def stored(decider: Decider, transaction: str, label: str, files: list, user: str = "alice") -> int:
    """PUT ``files`` (IndexedFile entries) into ``label`` until cataloged; the holding."""
    out = decider.handle(put(transaction, label=label, user=user))
    holding = decider.state.labels[(user, label)]
    out = decider.handle(indexed(transaction, 0, files, True, holding))
    [reserved] = of_type(out, FilesReserved)
    decider.handle(
        FilesTransferred(
            **envelope(transaction, "transferred/0", user),
            holding_id=holding,
            sub_batch=0,
            stored=[
                {
                    "path": f["path"],
                    "object_key": f"h{holding}/{transaction}/{f['path'].decode()}",
                    "size": f["size"],
                    "adler32": "00000001",
                    "sha256": "ab",
                }
                for f in reserved.files
                if f["path_type"] == "FILE"
            ],
            failed=[],
        )
    )
    return holding


def delete(
    transaction: str,
    paths: list[bytes] = (),  # type: ignore[assignment]
    regex: str | None = None,
    label: str | None = None,
    holding_id: int | None = None,
    tags: dict[str, str] | None = None,
    user: str = "alice",
) -> DeleteRequested:
    return DeleteRequested(
        **envelope(transaction, "requested", user),
        paths=list(paths),
        regex=regex,
        label=label,
        holding_id=holding_id,
        tags=tags or {},
        job_label="job",
        api_action="del" if len(paths) <= 1 else "dellist",
    )


def objects_deleted(transaction: str, batch: int, holding: int, keys: list[str]) -> ObjectsDeleted:
    return ObjectsDeleted(
        **envelope(transaction, f"objects-deleted/{batch}"),
        holding_id=holding,
        sub_batch=batch,
        object_keys=keys,
    )


def meta(
    transaction: str,
    label: str | None = None,
    holding_id: int | None = None,
    tags: dict[str, str] | None = None,
    new_label: str | None = None,
    add_tags: dict[str, str] | None = None,
    remove_tags: list[str] | None = None,
    user: str = "alice",
) -> MetaRequested:
    return MetaRequested(
        **envelope(transaction, "requested", user),
        label=label,
        holding_id=holding_id,
        tags=tags or {},
        new_label=new_label,
        add_tags=add_tags or {},
        remove_tags=remove_tags or [],
        job_label="job",
    )
