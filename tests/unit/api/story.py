"""A small catalog told as events and applied through the real projection code:
alice (climate, ocean), bob (climate) and carol (ocean), with holdings, files in every
state a FIND must handle, and transactions in every state a STAT must show."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from events.base import Event, event_id_for
from events.catalog import (
    CatalogedFile,
    FilesCataloged,
    FilesReserved,
    HoldingCreated,
    IndexedFile,
    TransactionAccepted,
    TransactionFinished,
    TransactionRejected,
)
from events.status import TransactionStateChanged
from projections import catalog, status

BUCKET = "nearline-cache"
GROUPS = {"alice": ("climate", "ocean"), "bob": ("climate",), "carol": ("ocean",)}
T0 = 1_700_000_000_000  # epoch ms of the first event

BAD = b"/data/run/bad-\xff\xfe.bin"
"""A path that is not UTF-8."""


def envelope(tid: str, step: str, user: str, group: str, at: int) -> dict:
    return {
        "event_id": event_id_for(tid, step),
        "transaction_id": tid,
        "user": user,
        "group": group,
        "cause_id": None,
        "occurred_at": at,
    }


def entry(
    path: bytes, kind: str = "FILE", size: int = 10, link: bytes | None = None
) -> IndexedFile:
    return IndexedFile(
        path=path,
        path_type=kind,
        link_path=link,
        size=size,
        mode=0o100644 if kind == "FILE" else 0o40755,
        uid=1000,
        gid=1000,
        mtime_ns=5,
    )


def stored(e: IndexedFile, key: str | None) -> CatalogedFile:
    return CatalogedFile(
        **e,
        object_key=key,
        adler32="0a0b0c0d" if key else None,
        sha256="ab" * 32 if key else None,
    )


def put(
    tid: str,
    user: str,
    group: str,
    holding_id: int,
    label: str,
    tags: dict[str, str],
    entries: Sequence[IndexedFile],
    at: int,
    new_holding: bool = True,
) -> list[Event]:
    """The facts of a PUT that cataloged ``entries`` (regular files get an object)."""
    env = lambda step, dt=0: envelope(tid, step, user, group, at + dt)  # noqa: E731
    facts: list[Event] = []
    if new_holding:
        facts.append(
            HoldingCreated(**env("holding"), holding_id=holding_id, label=label, tags=tags)
        )
    facts += [
        TransactionAccepted(
            **env("accepted"),
            api_action="put",
            job_label=tid[:8],
            holding_id=holding_id,
            label=label,
        ),
        FilesReserved(
            **env("reserved/0", 1),
            holding_id=holding_id,
            sub_batch=0,
            last=True,
            files=list(entries),
            refused=[],
        ),
        FilesCataloged(
            **env("cataloged/0", 2),
            holding_id=holding_id,
            sub_batch=0,
            files=[
                stored(e, f"h{holding_id}/{tid}/{i}" if e["path_type"] == "FILE" else None)
                for i, e in enumerate(entries)
            ],
            failed=[],
        ),
        TransactionFinished(
            **env("finished", 3),
            api_action="put",
            state="COMPLETE",
            files_ok=len(entries),
            files_failed=0,
            bytes_ok=sum(e["size"] for e in entries),
        ),
    ]
    return facts


def progress(tid: str, user: str, group: str, state: str, sub: int | None, at: int) -> Event:
    return TransactionStateChanged(
        **envelope(tid, f"status/{sub}/{state}", user, group, at),
        api_action="put",
        job_label=tid[:8],
        label=None,
        holding_id=None,
        sub_id=sub,
        state=state,
        failures=[],
        warnings=[],
        retries=0,
    )


def events() -> list[Event]:
    run = [
        entry(b"/data/run", "DIRECTORY", 0),
        entry(b"/data/run/a.nc", size=100),
        entry(b"/data/run/b.nc", size=200),
        entry(BAD, size=9),
        entry(b"/data/run/link", "LINK", 0, link=b"a.nc"),
    ]
    story: list[Event] = []
    story += put(
        "t-alice-run", "alice", "climate", 3, "run", {"project": "cmip7", "kind": "model"}, run, T0
    )
    story += put(
        "t-alice-run2",
        "alice",
        "climate",
        3,
        "run",
        {},
        [entry(b"/data/run/c.nc")],
        T0 + 100,
        new_holding=False,
    )
    story += put(
        "t-alice-waves",
        "alice",
        "ocean",
        9,
        "waves",
        {"project": "cmip7"},
        [entry(b"/data/waves/w.nc")],
        T0 + 1000,
    )
    story += put(
        "t-bob-obs",
        "bob",
        "climate",
        4,
        "obs",
        {"project": "cmip7", "kind": "obs"},
        [entry(b"/data/bob/x.nc"), entry(b"/data/bob/run/a.nc")],
        T0 + 2000,
    )
    story += put(
        "t-carol-sea", "carol", "ocean", 10, "sea", {}, [entry(b"/data/carol/y.nc")], T0 + 3000
    )
    # alice: a PUT that part-failed in its second sub-batch.
    story += [
        TransactionAccepted(
            **envelope("t-alice-partial", "accepted", "alice", "climate", T0 + 4000),
            api_action="putlist",
            job_label="partial",
            holding_id=3,
            label="run",
        ),
        FilesReserved(
            **envelope("t-alice-partial", "reserved/0", "alice", "climate", T0 + 4001),
            holding_id=3,
            sub_batch=0,
            last=False,
            files=[entry(b"/data/run/d.nc")],
            refused=[
                {"path": BAD, "reason": "File already exists in holding.", "retryable": False}
            ],
        ),
        FilesCataloged(
            **envelope("t-alice-partial", "cataloged/0", "alice", "climate", T0 + 4002),
            holding_id=3,
            sub_batch=0,
            files=[stored(entry(b"/data/run/d.nc"), "h3/t-alice-partial/0")],
            failed=[],
        ),
        TransactionFinished(
            **envelope("t-alice-partial", "finished", "alice", "climate", T0 + 4003),
            api_action="putlist",
            state="COMPLETE_WITH_ERRORS",
            files_ok=1,
            files_failed=1,
            bytes_ok=10,
        ),
    ]
    # bob: a PUT still indexing, its first sub-batch transferring.
    story += [
        progress("t-bob-busy", "bob", "climate", "INDEXING", None, T0 + 5000),
        progress("t-bob-busy", "bob", "climate", "TRANSFER_PUTTING", 0, T0 + 5001),
    ]
    # carol: a PUT refused before any work.
    story += [
        TransactionRejected(
            **envelope("t-carol-bad", "rejected", "carol", "ocean", T0 + 6000),
            api_action="put",
            job_label="bad",
            reason="Holding 77 does not exist or is not yours.",
        )
    ]
    return story


def fill(engine: Engine) -> None:
    """Apply the story through the projections, as the projection process would."""
    story = events()
    with engine.begin() as conn:
        catalog.apply(conn, story, BUCKET)
        status.apply(conn, story)
