"""nearline's own API (/api/v1): commands recorded as events, queries over the story's
catalog, the path representation, and the same rule of who sees and changes what."""

from __future__ import annotations

import base64
import time
import uuid

import pytest

from events.requests import DeleteRequested, GetRequested, MetaRequested, PutRequested
from tests.unit.api.story import BAD

V1 = "/api/v1"
BAD_B64 = base64.b64encode(BAD).decode()


def test_a_put_is_recorded_and_accepted(client, alice, log):
    tid = str(uuid.uuid4())
    body = {
        "paths": ["/data/new", {"path_b64": BAD_B64}],
        "label": "new",
        "tags": {"project": "x"},
        "job_label": "job",
        "transaction_id": tid,
    }
    response = client.post(f"{V1}/puts", json=body, headers=alice)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "transaction_id": tid,
        "api_action": "putlist",
        "user": "alice",
        "group": "climate",
        "job_label": "job",
        "status_url": f"/api/v1/transactions/{tid}",
    }
    [event] = log.events
    assert isinstance(event, PutRequested) and event.paths == [b"/data/new", BAD]
    assert event.label == "new" and event.tags == {"project": "x"}


def test_a_put_in_another_of_the_callers_groups(client, alice, log):
    response = client.post(f"{V1}/puts", json={"paths": ["/d"], "group": "ocean"}, headers=alice)
    assert response.json()["group"] == "ocean" and log.events[0].group == "ocean"


def test_a_put_in_a_group_not_the_callers_is_forbidden(client, alice, log):
    response = client.post(f"{V1}/puts", json={"paths": ["/d"], "group": "ice"}, headers=alice)
    assert response.status_code == 403
    assert "not a member of the group ice" in response.json()["detail"]
    assert not log.events


def test_a_get_and_a_delete_are_recorded(client, alice, log):
    get = client.post(
        f"{V1}/gets",
        json={"regex": r"\.nc$", "holding_id": 3, "target": "/tmp/x", "groupall": True},
        headers=alice,
    )
    assert get.status_code == 202 and get.json()["api_action"] == "get"
    delete = client.post(
        f"{V1}/deletes", json={"paths": ["/data/run/a.nc", "/data/run/b.nc"]}, headers=alice
    )
    assert delete.status_code == 202 and delete.json()["api_action"] == "dellist"
    got, deleted = log.events
    assert isinstance(got, GetRequested) and got.regex == r"\.nc$" and got.groupall
    assert got.target == b"/tmp/x" and got.holding_id == 3
    assert isinstance(deleted, DeleteRequested)
    assert deleted.paths == [b"/data/run/a.nc", b"/data/run/b.nc"]


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("gets", {}, "filelist"),
        ("gets", {"paths": ["/a"], "regex": "a"}, "regex"),
        ("deletes", {"regex": "("}, "regex"),
        ("puts", {"paths": ["/a"], "transaction_id": None, "job_label": "x" * 300}, "job_label"),
        ("puts", {"paths": ["/a"], "tags": {"": "v"}}, "tags"),
    ],
)
def test_bad_commands_say_which_field_to_change(client, alice, log, route, body, field):
    response = client.post(f"{V1}/{route}", json=body, headers=alice)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert not log.events


@pytest.mark.parametrize(
    ("route", "regex", "words"),
    [
        ("deletes", "x" * 1001, "at most 1000 are allowed"),
        ("gets", "(a+", "not a valid regular expression"),
        ("stages", r"\bname", "word boundary"),
        ("carts", "x" * 1001, "at most 1000 are allowed"),
    ],
)
def test_an_unusable_regex_is_a_400_that_says_why(client, alice, log, route, regex, words):
    response = client.post(f"{V1}/{route}", json={"regex": regex}, headers=alice)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "regex" and words in response.json()["detail"]
    assert not log.events


def test_find_with_a_catastrophic_regex_answers_at_once(client, alice):
    started = time.monotonic()
    for regex in (r"(a+)+$", r"(x+x+)+y", r"^(/?[a-z0-9]+)+\.nc$"):
        response = client.get(f"{V1}/files", params={"regex": regex}, headers=alice)
        assert response.status_code == 200, response.text
    assert time.monotonic() - started < 5
    too_long = client.get(f"{V1}/files", params={"regex": "x" * 1001}, headers=alice)
    assert too_long.status_code == 400 and "at most 1000" in too_long.json()["detail"]


def test_unknown_fields_and_bad_base64_are_unprocessable(client, alice):
    assert (
        client.post(f"{V1}/puts", json={"paths": ["/a"], "lable": "x"}, headers=alice).status_code
        == 422
    )
    bad = {"paths": [{"path_b64": "not base64!"}]}
    assert client.post(f"{V1}/puts", json=bad, headers=alice).status_code == 422


def test_meta_of_an_own_holding(client, alice, log):
    response = client.post(
        f"{V1}/holdings/3/meta",
        json={"add_tags": {"year": "2023"}, "remove_tags": ["kind"]},
        headers=alice,
    )
    assert response.status_code == 202, response.text
    [change] = response.json()["changes"]
    assert change["holding"]["tags"] == {"project": "cmip7", "kind": "model"}
    assert change["new_label"] == "run" and change["new_tags"] == {
        "project": "cmip7",
        "year": "2023",
    }
    [event] = log.events
    assert isinstance(event, MetaRequested) and event.holding_id == 3


def test_meta_of_a_group_members_holding_is_not_found(client, alice, log):
    response = client.post(f"{V1}/holdings/4/meta", json={"new_label": "x"}, headers=alice)
    assert response.status_code == 404
    assert "You have no holding 4" in response.json()["detail"]
    assert not log.events


def test_holdings_are_the_callers_and_groupall_reads_the_group(client, alice, bob):
    def ids(headers, **query):
        response = client.get(f"{V1}/holdings", params=query, headers=headers)
        return [h["id"] for h in response.json()["holdings"]]

    assert ids(alice) == [3, 9]  # every group of alice's
    assert ids(alice, group="ocean") == [9]
    assert ids(alice, groupall=True) == [3, 4]  # the primary group: climate
    assert ids(alice, groupall=True, group="ocean") == [9, 10]
    assert ids(bob) == [4]
    assert ids(alice, tag=["project:cmip7", "kind:model"]) == [3]
    assert ids(alice, label="^w", label_regex=True) == [9]
    assert ids(alice, descending=True, limit=1) == [9]
    assert client.get(f"{V1}/holdings/4", headers=alice).status_code == 404
    assert (
        client.get(f"{V1}/holdings/4", params={"groupall": True}, headers=alice).json()["user"]
        == "bob"
    )


def test_files_show_text_and_exact_bytes_of_paths(client, alice):
    response = client.get(f"{V1}/files", params={"regex": "bad-"}, headers=alice)
    [found] = response.json()["files"]
    assert found["path"] == r"/data/run/bad-\xff\xfe.bin"
    assert base64.b64decode(found["path_b64"]) == BAD
    assert found["checksums"] == {"ADLER32": "0a0b0c0d", "SHA256": "ab" * 32}
    [location] = found["locations"]
    assert location["storage_type"] == "OBJECT_STORAGE" and location["root"] == "nearline-cache"
    by_bytes = client.get(f"{V1}/files", params={"path_b64": BAD_B64}, headers=alice).json()
    assert [f["path"] for f in by_bytes["files"]] == [found["path"]]
    plain = client.get(f"{V1}/files", params={"path": "/data/run/a.nc"}, headers=alice).json()
    assert plain["files"][0]["path_b64"] is None
    link = client.get(f"{V1}/files", params={"path": "/data/run/link"}, headers=alice).json()
    assert link["files"][0]["link_path"] == "a.nc" and link["files"][0]["locations"] == []


def test_files_of_others_stay_hidden_and_bad_filters_are_explained(client, alice):
    hidden = client.get(f"{V1}/files", params={"path": "/data/bob/x.nc"}, headers=alice)
    assert hidden.json() == {"files": [], "next": None}
    for query in ({"regex": "*"}, {"path": "/a", "path_b64": "L2E="}, {"tag": "nocolon"}):
        response = client.get(f"{V1}/files", params=query, headers=alice)
        assert response.status_code == 400, query
        assert response.json()["detail"]


def test_transactions(client, alice, bob):
    listed = client.get(f"{V1}/transactions", params={"state": "FAILED"}, headers=alice).json()
    assert listed == {"transactions": []}
    done = client.get(
        f"{V1}/transactions", params={"state": ["102", "COMPLETE"], "limit": 5}, headers=alice
    ).json()["transactions"]
    assert [t["transaction_id"] for t in done] == [
        "t-alice-run",
        "t-alice-run2",
        "t-alice-waves",
        "t-alice-partial",
    ]
    one = client.get(f"{V1}/transactions/t-bob-busy", headers=bob).json()
    assert one["state"] == "INDEXING" and one["state_value"] == 2
    assert [(s["sub_id"], s["state"]) for s in one["sub_records"]] == [(0, "TRANSFER_PUTTING")]
    assert client.get(f"{V1}/transactions/t-bob-busy", headers=alice).status_code == 404
    bad = client.get(f"{V1}/transactions", params={"state": "DONE"}, headers=alice)
    assert bad.status_code == 400 and "COMPLETE=100" in bad.json()["detail"]


def test_openapi_documents_the_api_and_its_security(client):
    schema = client.get(f"{V1}/openapi.json").json()
    assert schema["servers"] == [{"url": "/api/v1"}]
    assert {"/puts", "/gets", "/deletes", "/holdings", "/files", "/transactions", "/token"} <= set(
        schema["paths"]
    )
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
