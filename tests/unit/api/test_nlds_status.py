"""NLDS ``status/``: records with sub-records and failed files, states by name, and
every filter, from the query or the JSON body the client sends with its GET."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.unit.api.conftest import bearer, nlds, nlds_error
from tests.unit.api.story import BAD

ALREADY = "File already exists in holding."

URL = "/api/1.0.0/status/"


def stat(client, headers, user="alice", group="climate", body=None, **query):
    params = {"user": user, "group": group} | query
    return nlds(client.request("GET", URL, params=params, json=body, headers=headers))


def ids(reply) -> list[str]:
    return [r["transaction_id"] for r in reply["data"]["records"]]


def client_state(record) -> str | None:
    """What the nlds client shows: the lowest sub-record state, and COMPLETE with a FAILED
    sub-record as COMPLETE_WITH_ERRORS (see the reference)."""
    from domain.states import State

    states = [State[s["state"]] for s in record["sub_records"] if s["state"] != "SPLIT"]
    if not states:
        return None
    lowest = min(states)
    if lowest == State.COMPLETE and State.FAILED in states:
        return "COMPLETE_WITH_ERRORS"
    return lowest.name


def test_a_finished_put_as_the_client_reads_it(client, alice):
    reply = stat(client, alice, transaction_id="t-alice-partial")
    assert reply["details"]["api_action"] == "stat"
    [record] = reply["data"]["records"]
    assert {k: record[k] for k in record if k != "sub_records"} == {
        "id": 6,
        "transaction_id": "t-alice-partial",
        "user": "alice",
        "group": "climate",
        "job_label": "partial",
        "api_action": "putlist",
        "creation_time": "2023-11-14T22:13:24",
        "warnings": [],
        "label": "run",
        "holding_id": 3,
        "state": "COMPLETE_WITH_ERRORS",
    }
    # The sub-batch stored some files and failed others: two sub-records, as NLDS
    # splits one, so that the client counts the failure and the share done.
    stored = {
        "id": 1,
        "sub_id": "0",
        "state": "COMPLETE",
        "retry_count": 0,
        "last_updated": "2023-11-14T22:13:24",
        "failed_files": [],
    }
    failure = {"filepath": BAD.decode("utf-8", "backslashreplace"), "reason": ALREADY}
    assert record["sub_records"] == [
        stored,
        stored | {"sub_id": "0-failed", "state": "FAILED", "failed_files": [failure]},
    ]
    assert client_state(record) == "COMPLETE_WITH_ERRORS"
    # The client compares these with a naive datetime: they must parse and be naive.
    assert datetime.fromisoformat(record["creation_time"]).tzinfo is None


def test_a_running_put_shows_its_sub_batches_progress(client, bob):
    [record] = stat(client, bob, user="bob", transaction_id="t-bob-busy")["data"]["records"]
    states = [(s["sub_id"], s["state"]) for s in record["sub_records"]]
    assert states == [("0", "TRANSFER_PUTTING")]
    assert client_state(record) == "TRANSFER_PUTTING"
    assert record["label"] == "" and record["holding_id"] == -1


def test_a_refused_put_is_failed_with_its_reason(client, tokens):
    headers = bearer(tokens, "carol")
    [record] = stat(client, headers, "carol", "ocean", transaction_id="t-carol-bad")["data"][
        "records"
    ]
    assert client_state(record) == "FAILED"
    assert record["warnings"] == ["Holding 77 does not exist or is not yours."]


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ({}, None, ["t-alice-run", "t-alice-run2", "t-alice-partial"]),
        ({"descending": True, "limit": 2}, None, ["t-alice-partial", "t-alice-run2"]),
        ({"id": 2}, None, ["t-alice-run2"]),
        ({"job_label": "partial"}, None, ["t-alice-partial"]),
        ({"job_label": "^part", "regex": True}, None, ["t-alice-partial"]),
        ({}, {"api_action": ["putlist"]}, ["t-alice-partial"]),
        ({}, {"exclude_api_action": ["putlist"]}, ["t-alice-run", "t-alice-run2"]),
        ({"api_action": "putlist"}, None, ["t-alice-partial"]),
        ({}, {"state": ["COMPLETE_WITH_ERRORS"]}, ["t-alice-partial"]),
        ({}, {"state": [102]}, ["t-alice-partial"]),
        ({}, {"state": ["complete_with_errors"]}, ["t-alice-partial"]),
        ({"state": "102"}, None, ["t-alice-partial"]),
        ({"sub_id": "0", "transaction_id": "t-alice-run"}, None, ["t-alice-run"]),
    ],
)
def test_status_filters(client, alice, query, body, expected):
    assert ids(stat(client, alice, body=body, **query)) == expected


def test_groupall_widens_status_to_the_group(client, alice):
    assert ids(stat(client, alice, groupall=True)) == [
        "t-alice-run",
        "t-alice-run2",
        "t-bob-obs",
        "t-alice-partial",
        "t-bob-busy",
    ]
    assert ids(stat(client, alice, transaction_id="t-bob-obs")) == []


def test_an_unknown_state_is_a_bad_request_listing_the_states(client, alice):
    response = client.request(
        "GET",
        URL,
        params={"user": "alice", "group": "climate"},
        json={"state": ["FINISHED"]},
        headers=alice,
    )
    assert response.status_code == 400
    assert "COMPLETE=100" in nlds_error(response)["msg"]


def test_nothing_found_says_so_in_details_failure(client, alice):
    reply = stat(client, alice, transaction_id="nope")
    assert reply["data"]["records"] == [] and "No transactions" in reply["details"]["failure"]
