"""The decider's UPLOAD verb: bytes the API stored become a cataloged file through the
same facts as a PUT; a path the holding has is refused and its object deleted; a
redelivery decides the same again."""

from __future__ import annotations

from events.catalog import (
    FilesCataloged,
    FilesReserved,
    HoldingCreated,
    TransactionFinished,
)
from events.requests import UploadRequested
from events.topics import DELETE_OBJECTS
from events.work import DeleteObjectsRequested
from processors.catalog.put import ALREADY_EXISTS
from tests.unit.catalog.test_decider import catalog_facts, envelope, new_decider, of_type


def upload(transaction: str, path: bytes = b"/42", key: str | None = None) -> UploadRequested:
    return UploadRequested(
        **envelope(transaction, "requested", "pacifica", "pacifica"),
        label="pacifica-default",
        path=path,
        size=5,
        mtime_ns=9,
        object_key=key or f"h0/{transaction}/%2F42",
        adler32="05c801f0",
        sha256="ab" * 32,
        job_label="job",
    )


def test_an_upload_is_cataloged_into_the_namespace_holding_made_on_first_use():
    decider = new_decider()
    out = decider.handle(upload("t1"))
    [holding] = of_type(out, HoldingCreated)
    assert holding.label == "pacifica-default" and holding.user == "pacifica"
    [cataloged] = of_type(out, FilesCataloged)
    [file] = cataloged.files
    assert (file["path"], file["size"], file["object_key"]) == (b"/42", 5, "h0/t1/%2F42")
    assert (file["adler32"], file["sha256"]) == ("05c801f0", "ab" * 32)
    assert of_type(out, TransactionFinished)[0].state == "COMPLETE"
    assert not [o for o in out if o.topic == DELETE_OBJECTS]
    second = decider.handle(upload("t2", b"/43", "h0/t2/%2F43"))
    assert not of_type(second, HoldingCreated)  # the same holding
    assert of_type(second, FilesCataloged)[0].holding_id == holding.holding_id


def test_a_second_upload_of_a_path_is_refused_and_its_object_deleted():
    decider = new_decider()
    decider.handle(upload("t1"))
    out = decider.handle(upload("t2"))
    [reserved] = of_type(out, FilesReserved)
    assert reserved.files == [] and reserved.refused[0]["reason"] == ALREADY_EXISTS
    assert of_type(out, TransactionFinished)[0].state == "FAILED"
    [removal] = of_type(out, DeleteObjectsRequested)
    assert removal.object_keys == ["h0/t2/%2F42"]
    kept = decider.state.files[(reserved.holding_id, b"/42")]
    assert kept.transaction_id == "t1" and kept.object_key == "h0/t1/%2F42"


def test_a_redelivered_upload_adds_no_fact_and_resends_the_same():
    decider = new_decider()
    first = decider.handle(upload("t1"))
    again = decider.handle(upload("t1"))
    assert not catalog_facts(again)
    assert not of_type(again, DeleteObjectsRequested)  # its object is the file's
    refused = decider.handle(upload("t2"))
    refused_again = decider.handle(upload("t2"))
    assert [e.event_id for e in of_type(refused_again, DeleteObjectsRequested)] == [
        e.event_id for e in of_type(refused, DeleteObjectsRequested)
    ]
    assert first


def test_the_state_rebuilt_from_the_facts_refuses_the_same():
    live = new_decider()
    facts = catalog_facts(live.handle(upload("t1")))
    rebuilt = new_decider()
    for fact in facts:
        rebuilt.state.apply(fact)
    out = rebuilt.handle(upload("t2"))
    assert of_type(out, TransactionFinished)[0].state == "FAILED"


def test_a_refused_slice_of_a_pack_sends_no_deletion():
    decider = new_decider()
    decider.handle(upload("t1"))
    pack = "h0/pack-x/pack=" + "c" * 64
    out = decider.handle(upload("t2", key=f"{pack}#0+5"))
    assert of_type(out, TransactionFinished)[0].state == "FAILED"
    assert not of_type(out, DeleteObjectsRequested)  # the API deletes a pack nobody uses
