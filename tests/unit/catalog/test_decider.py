"""The decider's rules, as stories: each step feeds it a request or a worker's report
and looks at what it decides. No Kafka: the decider is pure logic over its state."""

from __future__ import annotations

from events.base import Event, event_id_for
from events.catalog import (
    FilesCataloged,
    FilesReserved,
    HoldingCreated,
    IndexedFile,
    TransactionAccepted,
    TransactionFinished,
    TransactionRejected,
)
from events.reports import FilesIndexed, FilesTransferred
from events.requests import PutRequested
from events.status import TransactionStateChanged
from events.topics import CATALOG
from events.work import IndexRequested, TransferPutRequested
from processors.catalog.decider import Decider, Outgoing
from processors.catalog.put import ALREADY_EXISTS
from processors.catalog.state import CatalogState


def envelope(transaction: str, step: str, user: str = "alice", group: str = "climate") -> dict:
    return {
        "event_id": event_id_for(transaction, step),
        "transaction_id": transaction,
        "user": user,
        "group": group,
        "cause_id": None,
        "occurred_at": 1,
    }


def put(
    transaction: str,
    label: str | None = None,
    holding_id: int | None = None,
    user: str = "alice",
    group: str = "climate",
) -> PutRequested:
    return PutRequested(
        **envelope(transaction, "requested", user, group),
        label=label,
        holding_id=holding_id,
        tags={"project": "x"},
        paths=[b"/data"],
        path_list_file=None,
        job_label="job",
        api_action="put",
    )


def entry(path: bytes, kind: str = "FILE", size: int = 10) -> IndexedFile:
    return IndexedFile(
        path=path,
        path_type=kind,
        link_path=None,
        size=size,
        mode=0o100644,
        uid=1000,
        gid=1000,
        mtime_ns=5,
    )


def indexed(
    transaction: str,
    batch: int,
    files: list,
    last: bool,
    holding_id: int,
    rejected: list | None = None,
) -> FilesIndexed:
    return FilesIndexed(
        **envelope(transaction, f"indexed/{batch}"),
        holding_id=holding_id,
        sub_batch=batch,
        last=last,
        files=files,
        rejected=rejected or [],
    )


def of_type(out: list[Outgoing], kind: type[Event]) -> list:
    return [o.event for o in out if isinstance(o.event, kind)]


def catalog_facts(out: list[Outgoing]) -> list[Event]:
    return [o.event for o in out if o.topic == CATALOG]


def new_decider(partition: int = 2) -> Decider:
    return Decider(CatalogState(partition=partition, partitions=6), clock=lambda: 7)


def test_a_put_from_request_to_finished_transaction():
    decider = new_decider()
    # A PUT with a new label creates the holding and asks for indexing.
    out = decider.handle(put("t1", label="run"))
    [holding] = of_type(out, HoldingCreated)
    assert (holding.label, holding.holding_id, holding.tags) == ("run", 3, {"project": "x"})
    assert of_type(out, TransactionAccepted)[0].holding_id == 3
    assert of_type(out, IndexRequested)[0].paths == [b"/data"]
    assert of_type(out, TransactionStateChanged)[0].state == "INDEXING"
    # The first sub-batch is reserved; only regular files go to transfer.
    out = decider.handle(
        indexed(
            "t1", 0, [entry(b"/data"), entry(b"/data/a"), entry(b"/data/l", "LINK", 0)], False, 3
        )
    )
    [reserved] = of_type(out, FilesReserved)
    assert [f["path"] for f in reserved.files] == [b"/data", b"/data/a", b"/data/l"]
    [transfer] = of_type(out, TransferPutRequested)
    assert [f["path"] for f in transfer.files] == [b"/data", b"/data/a"]
    assert transfer.files[0]["object_key"].startswith("h3/t1/")
    # The last sub-batch has only a directory and a rejection: cataloged at once.
    out = decider.handle(
        indexed(
            "t1",
            1,
            [entry(b"/data/d", "DIRECTORY", 0)],
            True,
            3,
            rejected=[{"path": b"/data/p", "reason": "is a FIFO", "retryable": False}],
        )
    )
    [settled] = of_type(out, FilesCataloged)
    assert [f["path"] for f in settled.files] == [b"/data/d"]
    assert not of_type(out, TransactionFinished)  # sub-batch 0 is still in transfer
    # The transfer reports one file stored and one failed: the transaction finishes.
    out = decider.handle(
        FilesTransferred(
            **envelope("t1", "transferred/0"),
            holding_id=3,
            sub_batch=0,
            stored=[
                {"path": b"/data", "object_key": "k", "size": 10, "adler32": "01", "sha256": "ab"}
            ],
            failed=[
                {
                    "path": b"/data/a",
                    "reason": "file changed while it was being read",
                    "retryable": False,
                }
            ],
        )
    )
    [settled] = of_type(out, FilesCataloged)
    assert [f["path"] for f in settled.files] == [b"/data", b"/data/l"]
    assert settled.files[0]["sha256"] == "ab"
    [finished] = of_type(out, TransactionFinished)
    assert (finished.state, finished.files_ok, finished.files_failed) == (
        "COMPLETE_WITH_ERRORS",
        3,
        2,
    )
    assert of_type(out, TransactionStateChanged)[-1].state == "COMPLETE_WITH_ERRORS"
    # The failed path is free again; the stored ones are taken.
    assert (3, b"/data/a") not in decider.state.files
    assert decider.state.files[(3, b"/data")].stored


def test_redelivered_inputs_add_no_facts_and_resend_the_same_work():
    decider = new_decider()
    first = decider.handle(put("t1", label="run"))
    again = decider.handle(put("t1", label="run"))
    assert catalog_facts(again) == []
    assert of_type(again, IndexRequested)[0].event_id == of_type(first, IndexRequested)[0].event_id
    report = indexed("t1", 0, [entry(b"/data/a")], True, 3)
    first = decider.handle(report)
    again = decider.handle(report)
    assert catalog_facts(again) == []
    assert [o.event.event_id for o in again] == [
        o.event.event_id for o in first if o.topic != CATALOG
    ]


def test_a_path_is_in_a_holding_once_but_may_be_in_many_holdings():
    decider = new_decider()
    decider.handle(put("t1", label="run"))
    decider.handle(indexed("t1", 0, [entry(b"/data/a")], True, 3))
    # The same path into the same holding is refused for that file only.
    decider.handle(put("t2", label="run"))
    out = decider.handle(indexed("t2", 0, [entry(b"/data/a"), entry(b"/data/b")], True, 3))
    [reserved] = of_type(out, FilesReserved)
    assert [f["path"] for f in reserved.files] == [b"/data/b"]
    assert reserved.refused == [{"path": b"/data/a", "reason": ALREADY_EXISTS, "retryable": False}]
    # Into another holding it is welcome.
    out = decider.handle(put("t3", label="other"))
    other = of_type(out, HoldingCreated)[0].holding_id
    out = decider.handle(indexed("t3", 0, [entry(b"/data/a")], True, other))
    assert [f["path"] for f in of_type(out, FilesReserved)[0].files] == [b"/data/a"]


def test_holding_choice_errors_are_reported_before_any_indexing():
    decider = new_decider()
    decider.handle(put("t1", label="run"))
    for request, words in [
        (put("t2", label="other", holding_id=3), "labelled 'run'"),
        (put("t3", holding_id=999), "does not exist"),
        (put("t4", holding_id=3, user="mallory", group="ocean"), "is not yours"),
    ]:
        out = decider.handle(request)
        assert not of_type(out, IndexRequested)
        [rejected] = of_type(out, TransactionRejected)
        assert words in rejected.reason
        assert of_type(out, TransactionStateChanged)[0].state == "FAILED"


def test_labels_are_per_user_and_default_to_the_transaction():
    decider = new_decider()
    alice = of_type(decider.handle(put("t1", label="run")), HoldingCreated)[0]
    bob = of_type(decider.handle(put("t2", label="run", user="bob")), HoldingCreated)[0]
    assert alice.holding_id != bob.holding_id
    unnamed = of_type(decider.handle(put("abcdefgh-1234")), HoldingCreated)[0]
    assert unnamed.label == "abcdefgh"
    # An existing label adds to that holding: nothing new is created.
    assert of_type(decider.handle(put("t4", label="run")), HoldingCreated) == []
    # A member of the holding's group may not add to it (D110): only its owner writes.
    out = decider.handle(put("t5", holding_id=alice.holding_id, user="carol"))
    assert not of_type(out, TransactionAccepted) and not of_type(out, IndexRequested)
    assert "is not yours" in of_type(out, TransactionRejected)[0].reason


def test_state_rebuilt_from_the_facts_decides_the_same():
    live = new_decider()
    facts: list[Event] = []
    for n, label in enumerate(["a", "b", "c"]):
        facts += catalog_facts(live.handle(put(f"t{n}", label=label)))
        facts += catalog_facts(live.handle(indexed(f"t{n}", 0, [entry(b"/f")], True, 3 + 6 * n)))
    rebuilt = new_decider()
    for fact in facts + facts:  # folding a fact twice changes nothing
        rebuilt.state.apply(fact)
    assert rebuilt.state.labels == live.state.labels
    assert rebuilt.state.files.keys() == live.state.files.keys()
    assert rebuilt.state.next_holding_id() == live.state.next_holding_id() == 3 + 6 * 3
