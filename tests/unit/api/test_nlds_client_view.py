"""Status records as the real nlds client (PyPI ``nlds-client`` 1.0.17) shows them: its
own ``get_transaction_state`` reads what ``render`` makes of each kind of transaction."""

from __future__ import annotations

import pytest
from nlds_client.clientlib.transactions import get_transaction_state

from api.nlds import render
from api.queries.transactions import FailedFile, SubRecord, TransactionStatus
from domain.states import State

T = 1_700_000_000_000


def tx(state: State, *subs: SubRecord) -> TransactionStatus:
    return TransactionStatus(
        id=1,
        transaction_id="t",
        user="alice",
        group="climate",
        api_action="putlist",
        job_label="t",
        label="run",
        holding_id=3,
        state=state,
        warnings=[],
        creation_time=T,
        last_updated=T,
        sub_records=list(subs),
    )


def sub(sub_id: int, state: State, *failed: bytes) -> SubRecord:
    return SubRecord(sub_id, state, 0, T, [FailedFile(p, "not found") for p in failed])


def shown(status: TransactionStatus) -> tuple[str, int]:
    """The client's state and share done, as ``nlds stat`` prints them."""
    state, _when, done = get_transaction_state(render.transaction(status))
    return state, done


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        # Each sub-batch's progress shows, not the transaction's INDEXING or ROUTING.
        (tx(State.INDEXING, sub(0, State.COMPLETE), sub(1, State.TRANSFER_PUTTING)), 4),
        (tx(State.ROUTING, sub(0, State.TRANSFER_GETTING)), 12),
        (tx(State.ROUTING, sub(0, State.ARCHIVE_GETTING), sub(1, State.COMPLETE)), 11),
        # Nothing to tell from sub-batches: the transaction's own state.
        (tx(State.INDEXING), 2),
        (tx(State.INDEXING, sub(0, State.COMPLETE)), 2),
    ],
)
def test_a_running_transaction_shows_its_busiest_part(status, expected):
    state, _done = shown(status)
    assert state == State(expected).name


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (tx(State.COMPLETE, sub(0, State.COMPLETE), sub(1, State.COMPLETE)), ("COMPLETE", 100)),
        # A sub-batch with failed and stored files counts as NLDS's split one does.
        (
            tx(State.COMPLETE_WITH_ERRORS, sub(0, State.COMPLETE_WITH_ERRORS, b"/a")),
            ("COMPLETE_WITH_ERRORS", 50),
        ),
        (
            tx(
                State.COMPLETE_WITH_ERRORS,
                sub(0, State.COMPLETE),
                sub(1, State.COMPLETE_WITH_ERRORS, b"/b"),
            ),
            ("COMPLETE_WITH_ERRORS", 67),
        ),
        (
            tx(State.COMPLETE_WITH_ERRORS, sub(0, State.COMPLETE), sub(1, State.FAILED, b"/c")),
            ("COMPLETE_WITH_ERRORS", 50),
        ),
        (tx(State.FAILED, sub(0, State.FAILED, b"/d")), ("FAILED", 0)),
        # Refused before any sub-batch.
        (tx(State.FAILED), ("FAILED", 0)),
        # A failure no sub-batch shows is not hidden behind their COMPLETE.
        (tx(State.COMPLETE_WITH_ERRORS, sub(0, State.COMPLETE)), ("COMPLETE_WITH_ERRORS", 50)),
    ],
)
def test_a_finished_transaction_shows_its_outcome_and_share_done(status, expected):
    assert shown(status) == expected


def test_each_failed_file_is_listed_once_for_nlds_stat_F():
    record = render.transaction(
        tx(State.COMPLETE_WITH_ERRORS, sub(0, State.COMPLETE_WITH_ERRORS, b"/a", b"/b\xff"))
    )
    failed = [f["filepath"] for s in record["sub_records"] for f in s["failed_files"]]
    assert failed == ["/a", "/b\\xff"]
    assert [(s["sub_id"], s["state"]) for s in record["sub_records"]] == [
        ("0", "COMPLETE"),
        ("0-failed", "FAILED"),
    ]


def test_a_sub_id_filter_shows_that_sub_record_alone():
    record = render.transaction(tx(State.INDEXING, sub(1, State.COMPLETE)), only_sub=True)
    assert [s["sub_id"] for s in record["sub_records"]] == ["1"]
