"""NLDS ``files/`` exactly as the nlds client uses it: PUT, GET and getlist are
recorded as request events and answered 202 with the request as accepted."""

from __future__ import annotations

import json
import uuid

import pytest

from events.codec import encode
from events.requests import GetRequested, PutRequested
from tests.unit.api.conftest import nlds, nlds_error

URL = "/api/1.0.0/files/"
KEYS = {"access_key": "AKIAEXAMPLEKEY", "secret_key": "wJalrXUtnFEMI/SECRET", "tenancy": "os.x"}


def params(**more):
    return {"transaction_id": str(uuid.uuid4()), "user": "alice", "group": "climate"} | more


def test_a_put_is_recorded_and_answered_with_the_request_as_accepted(client, alice, log):
    query = params(job_label="nightly", **KEYS)
    body = {"filelist": ["/data/run/a.nc"], "label": "run", "tag": {"project": "cmip7"}}
    reply = nlds(client.put(URL, params=query, json=body, headers=alice))
    assert reply == {
        "transaction_id": query["transaction_id"],
        "msg": f"PUT transaction with id {query['transaction_id']} accepted for processing.",
        "user": "alice",
        "group": "climate",
        "api_action": "put",
        "job_label": "nightly",
        "tenancy": "os.x",
        "label": "run",
        "holding_id": -1,
        "tag": {"project": "cmip7"},
    }
    [event] = log.events
    assert isinstance(event, PutRequested)
    assert event.transaction_id == query["transaction_id"]
    assert (event.user, event.group, event.label) == ("alice", "climate", "run")
    assert event.paths == [b"/data/run/a.nc"] and event.tags == {"project": "cmip7"}
    # The object-store keys NLDS clients send are dropped, never recorded.
    recorded = encode(event)
    assert b"AKIAEXAMPLEKEY" not in recorded and b"SECRET" not in recorded


def test_a_putlist_with_tags_in_query_form_and_a_holding_id(client, alice, log):
    body = {"filelist": ["/a/1", "/a/2"], "tag": "k:v,k2:v2,", "holding_id": 3}
    reply = nlds(client.put(URL, params=params(), json=body, headers=alice))
    assert reply["api_action"] == "putlist" and reply["holding_id"] == 3
    assert reply["tag"] == {"k": "v", "k2": "v2"}
    [event] = log.events
    assert event.api_action == "putlist" and event.holding_id == 3
    assert event.job_label == reply["transaction_id"][:8]


def test_non_utf8_paths_sent_surrogate_escaped_arrive_as_their_bytes(client, alice, log):
    # The client's requests library sends os.fsdecode()d names as \\udcXX escapes.
    body = json.dumps({"filelist": ["/data/bad-\udcff.bin"]})
    headers = alice | {"Content-Type": "application/json"}
    nlds(client.put(URL, params=params(), content=body, headers=headers))
    assert log.events[0].paths == [b"/data/bad-\xff.bin"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"filelist": []}, "at least one path"),
        ({"filelist": ["relative/path"]}, "absolute"),
        ({"filelist": ["/a"], "label": " "}, "label"),
        ({"filelist": ["/a"], "holding_id": 0}, "positive"),
        ({"filelist": ["/a"], "tag": "novalue"}, "key:value"),
        ({"filelist": ["/a\ud800"]}, "not text"),
        # Nothing in it can be a path: refused at once.
        ({"filelist": ["/a\x00", "b"]}, "NUL byte"),
    ],
)
def test_a_bad_put_is_refused_with_a_message_the_client_prints(client, alice, log, body, message):
    headers = alice | {"Content-Type": "application/json"}
    response = client.put(URL, params=params(), content=json.dumps(body), headers=headers)
    assert response.status_code == 400
    assert message in nlds_error(response)["msg"]
    assert not log.events


def test_user_and_group_must_be_the_callers(client, alice, log):
    bob = client.put(URL, params=params(user="bob"), json={"filelist": ["/a"]}, headers=alice)
    assert bob.status_code == 404
    assert nlds_error(bob)["msg"] == "User bob could not be found."
    ice = client.put(URL, params=params(group="ice"), json={"filelist": ["/a"]}, headers=alice)
    assert ice.status_code == 404
    assert nlds_error(ice)["msg"] == "User is not a member of the group ice."
    assert not log.events


def test_missing_user_or_group_is_unprocessable(client, alice):
    query = params()
    del query["group"]
    response = client.put(URL, params=query, json={"filelist": ["/a"]}, headers=alice)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "group"]


def test_a_get_of_one_file_and_of_a_regex(client, alice, log):
    one = nlds(
        client.get(
            URL,
            params=params(filepath="/data/run/a.nc", target="/tmp/out", holding_id=3, **KEYS),
            headers=alice,
        )
    )
    assert one["api_action"] == "get" and one["holding_id"] == 3 and one["target"] == "/tmp/out"
    assert one["msg"].startswith("GET transaction with id")
    by_regex = nlds(
        client.get(
            URL,
            params=params(filepath=r".*\.nc$", regex=True, groupall=True, tag="project:cmip7"),
            headers=alice,
        )
    )
    first, second = log.events
    assert isinstance(first, GetRequested) and first.paths == [b"/data/run/a.nc"]
    assert first.target == b"/tmp/out" and first.holding_id == 3 and not first.groupall
    assert second.paths == [] and second.regex == r".*\.nc$" and second.groupall
    assert second.tags == {"project": "cmip7"} and by_regex["tag"] == {"project": "cmip7"}


def test_a_get_with_an_invalid_regex_is_refused_before_anything_is_recorded(client, alice, log):
    response = client.get(URL, params=params(filepath="[", regex=True), headers=alice)
    assert response.status_code == 400
    assert "not a valid regular expression" in nlds_error(response)["msg"]
    assert not log.events


def test_a_getlist(client, alice, log):
    body = {"filelist": ["/data/run/a.nc", "/data/run/b.nc"], "label": "run"}
    reply = nlds(
        client.put(URL + "getlist/", params=params(groupall=True), json=body, headers=alice)
    )
    assert reply["api_action"] == "getlist" and reply["label"] == "run"
    [event] = log.events
    assert event.paths == [b"/data/run/a.nc", b"/data/run/b.nc"] and event.label == "run"
    assert event.groupall and event.target is None


def test_an_unreachable_log_is_a_503_saying_nothing_happened(settings, alice):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from nearline.requests import RequestNotRecorded
    from tests.unit.api.recording import RecordingLog

    class DownLog(RecordingLog):
        def record(self, event):
            raise RequestNotRecorded("the request could not be recorded: broker down")

    with TestClient(create_app(settings, request_log=DownLog)) as client:
        response = client.put(URL, params=params(), json={"filelist": ["/a"]}, headers=alice)
    assert response.status_code == 503
    assert "Nothing was done" in nlds_error(response)["msg"]


def test_list_lines_arrive_without_their_line_endings(client, alice, log):
    """``nlds getlist -r`` sends each line of the list file as read, ``\\n`` and all (and
    one line through ``GET files/``); ``putlist`` does after a blank line."""
    lines = ["/data/run/a.nc\n", "/data/run/b.nc\r\n", "\n", "/data/run/c.nc"]
    getlist = {"filelist": lines}
    nlds(client.put(URL + "getlist/", params=params(target="/t"), json=getlist, headers=alice))
    nlds(client.get(URL, params=params(filepath="/data/run/a.nc\n"), headers=alice))
    nlds(client.put(URL, params=params(), json={"filelist": lines}, headers=alice))
    expected = [b"/data/run/a.nc", b"/data/run/b.nc", b"/data/run/c.nc"]
    assert [e.paths for e in log.events] == [expected, [b"/data/run/a.nc"], expected]


def test_a_putlist_line_that_cannot_be_a_path_fails_alone(client, alice, log):
    """The line is passed on: the indexer fails it with its reason, the rest is put."""
    body = {"filelist": ["/data/a.nc", "/data/b\x00.nc", "relative.nc"]}
    reply = nlds(client.put(URL, params=params(), json=body, headers=alice))
    assert reply["api_action"] == "putlist"
    [event] = log.events
    assert event.paths == [b"/data/a.nc", b"/data/b\x00.nc", b"relative.nc"]


def test_a_list_of_blank_lines_deletes_nothing(client, alice, log):
    body = {"filelist": ["\n", "\n"], "label": "run"}
    response = client.request("DELETE", URL, params=params(), json=body, headers=alice)
    assert response.status_code == 400
    assert "names no paths" in nlds_error(response)["msg"]
    assert not log.events
