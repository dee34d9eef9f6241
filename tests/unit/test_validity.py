"""Records with impossible content are told apart from plausible ones."""

from events.base import event_id_for
from events.reports import FilesTransferred
from events.work import TransferPutRequested
from processors.validity import impossible


def envelope(transaction_id: str = "tx-1") -> dict:
    return {
        "event_id": event_id_for(transaction_id, "step"),
        "transaction_id": transaction_id,
        "user": "alice",
        "group": "climate",
        "cause_id": None,
        "occurred_at": 1,
    }


def transfer(size: int, transaction_id: str = "tx-1") -> TransferPutRequested:
    return TransferPutRequested(
        **envelope(transaction_id),
        holding_id=1,
        sub_batch=0,
        files=[{"path": b"/x", "size": size, "mtime_ns": 1, "object_key": "k"}],
    )


def test_plausible_records_pass():
    assert impossible(transfer(0)) is None
    ok = FilesTransferred(**envelope(), holding_id=1, sub_batch=2, stored=[], failed=[])
    assert impossible(ok) is None


def test_negative_sizes_empty_ids_and_negative_batches_are_impossible():
    assert "impossible size -1" in (impossible(transfer(-1)) or "")
    assert "empty transaction_id" in (impossible(transfer(1, transaction_id="")) or "")
    bad = FilesTransferred(**envelope(), holding_id=1, sub_batch=-3, stored=[], failed=[])
    assert "impossible sub_batch -3" in (impossible(bad) or "")
