"""NLDS ``catalog/list``, ``catalog/find`` and ``catalog/meta`` over the story's
catalog: the reply shapes the client prints, the filters, and who sees what."""

from __future__ import annotations

import base64
import json
import re

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.nlds.init import NO_TENANCY
from events.requests import MetaRequested
from tests.unit.api.conftest import nlds, nlds_error
from tests.unit.api.story import BAD

LIST, FIND, META = (f"/api/1.0.0/catalog/{x}/" for x in ("list", "find", "meta"))


def ask(client, headers, url, user="alice", group="climate", **query):
    return nlds(client.get(url, params={"user": user, "group": group} | query, headers=headers))


def listed(client, headers, **query) -> list[int]:
    return [h["id"] for h in ask(client, headers, LIST, **query)["data"]["holdings"]]


def test_list_shows_the_callers_holdings_in_the_group_as_the_client_prints_them(client, alice):
    reply = ask(client, alice, LIST)
    assert reply["details"] == {"user": "alice", "group": "climate", "api_action": "list"}
    assert reply["data"]["holdings"] == [
        {
            "id": 3,
            "label": "run",
            "user": "alice",
            "group": "climate",
            "tags": {"project": "cmip7", "kind": "model"},
            "transactions": ["t-alice-run", "t-alice-run2", "t-alice-partial"],
            "date": "2023-11-14T22:13:20",
        }
    ]
    assert listed(client, alice, group="ocean") == [9]


def test_groupall_widens_list_to_the_group(client, alice, bob):
    assert listed(client, alice, groupall=True) == [3, 4]
    assert listed(client, bob, user="bob", groupall=True) == [3, 4]
    assert listed(client, bob, user="bob") == [4]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ({"tag": "project:cmip7"}, [3, 4]),
        ({"tag": "project:cmip7,kind:obs"}, [4]),
        ({"tag": "project:cmip7,kind:nothing"}, []),
        ({"label": "run"}, [3]),
        ({"label": "^(run|obs)$", "regex": True}, [3, 4]),
        ({"holding_id": 4}, [4]),
        ({"transaction_id": "t-bob-obs"}, [4]),
        ({"limit": 1}, [3]),
        ({"limit": 1, "descending": True}, [4]),
    ],
)
def test_list_filters(client, alice, query, ids):
    assert listed(client, alice, groupall=True, **query) == ids


def test_an_empty_list_says_why_in_details_failure(client, alice):
    reply = ask(client, alice, LIST, label="nothing-like-this")
    assert reply["data"]["holdings"] == [] and "No holdings found" in reply["details"]["failure"]


def test_find_shows_files_with_locations_and_checksums(client, alice):
    reply = ask(client, alice, FIND, path="/data/run/a.nc")
    holding = reply["data"]["holdings"]["run"]
    assert {k: holding[k] for k in ("label", "holding_id", "user", "group")} == {
        "label": "run",
        "holding_id": 3,
        "user": "alice",
        "group": "climate",
    }
    transaction = holding["transactions"]["t-alice-run"]
    assert transaction["ingest_time"] == "2023-11-14T22:13:20"
    [found] = transaction["filelist"]
    assert found == {
        "original_path": "/data/run/a.nc",
        "path_type": "FILE",
        "link_path": None,
        "size": 100,
        "user": 1000,
        "group": 1000,
        "permissions": 0o644,
        "holding_id": 3,
        "checksums": {"ADLER32": "0a0b0c0d", "SHA256": "ab" * 32},
        "locations": [
            {
                "storage_type": "OBJECT_STORAGE",
                "root": "nearline-cache",
                "path": "h3/t-alice-run/1",
                "access_time": "2023-11-14T22:13:20",
                "url": "http://127.0.0.1:29000/nearline-cache/h3/t-alice-run/1",
            }
        ],
    }


def paths(reply) -> list[str]:
    return [
        f["original_path"]
        for h in reply["data"]["holdings"].values()
        for t in h["transactions"].values()
        for f in t["filelist"]
    ]


def test_find_by_regex_matches_the_path_text_of_any_path(client, alice):
    assert paths(ask(client, alice, FIND, path=r"\.nc$", regex=True)) == [
        "/data/run/a.nc",
        "/data/run/b.nc",
        "/data/run/c.nc",
        "/data/run/d.nc",
    ]
    # Bytes that are not UTF-8 are matched, and shown, as \xNN.
    assert paths(ask(client, alice, FIND, path=r"bad-\\xff", regex=True)) == [
        BAD.decode("utf-8", "backslashreplace")
    ]
    assert paths(ask(client, alice, FIND, path="/data/run/link"))  # links are files too


def test_find_with_groupall_reads_the_groups_holdings_and_keys_them_by_label(client, alice):
    reply = ask(client, alice, FIND, path="/a.nc$", regex=True, groupall=True)
    assert set(reply["data"]["holdings"]) == {"run", "obs"}
    assert paths(reply) == ["/data/run/a.nc", "/data/bob/run/a.nc"]
    assert paths(ask(client, alice, FIND, path="/a.nc$", regex=True, groupall=True, limit=1)) == [
        "/data/run/a.nc"
    ]


def test_find_never_shows_another_users_files(client, alice):
    assert "failure" in ask(client, alice, FIND, path="/data/bob/x.nc")["details"]
    carol = ask(client, alice, FIND, group="ocean", path="/data/carol/y.nc")
    assert paths(carol) == []


def test_an_invalid_regex_is_a_bad_request_with_the_reason(client, alice):
    response = client.get(
        FIND,
        params={"user": "alice", "group": "climate", "path": "a(b", "regex": True},
        headers=alice,
    )
    assert response.status_code == 400
    error = nlds_error(response)
    assert "not a valid regular expression" in error["msg"] and error["loc"] == ["query"]


def test_meta_records_the_change_and_shows_old_and_new(client, alice, log):
    response = client.post(
        META,
        params={"user": "alice", "group": "climate", "label": "run"},
        json={"new_label": "run-2023", "new_tag": {"year": "2023"}, "del_tag": {"kind": ""}},
        headers=alice,
    )
    reply = nlds(response)
    assert reply["data"]["holdings"] == [
        {
            "id": 3,
            "user": "alice",
            "group": "climate",
            "old_meta": {"label": "run", "tags": {"project": "cmip7", "kind": "model"}},
            "new_meta": {"label": "run-2023", "tags": {"project": "cmip7", "year": "2023"}},
        }
    ]
    [event] = log.events
    assert isinstance(event, MetaRequested) and event.transaction_id == reply["transaction_id"]
    assert (event.label, event.new_label) == ("run", "run-2023")
    assert event.add_tags == {"year": "2023"} and event.remove_tags == ["kind"]


def test_meta_cannot_change_a_group_members_holding(client, alice, log):
    response = client.post(
        META,
        params={"user": "alice", "group": "climate", "holding_id": 4},
        json={"new_label": "mine-now"},
        headers=alice,
    )
    assert response.status_code == 400
    assert "No holding of yours matches" in nlds_error(response)["msg"]
    assert not log.events


@pytest.mark.parametrize(
    ("query", "body", "message"),
    [
        ({"label": "run"}, {}, "Nothing to change"),
        ({}, {"new_label": "x"}, "Select the holding"),
        ({"label": "run"}, {"new_label": "\u0000"}, "label"),
    ],
)
def test_meta_refuses_what_it_cannot_do(client, alice, log, query, body, message):
    response = client.post(
        META,
        params={"user": "alice", "group": "climate"} | query,
        json=body,
        headers=alice,
    )
    assert response.status_code == 400
    assert message in nlds_error(response)["msg"]
    assert not log.events


def test_init_gives_the_client_its_oauth_settings_encrypted_with_a_public_key(client):
    key = base64.b64decode(nlds(client.get("/api/1.0.0/init/token"))["token"])
    encrypted = nlds(client.get("/api/1.0.0/init/"))["encrypted_keys"]
    config = json.loads(Fernet(key).decrypt(encrypted.encode()))
    assert config == {
        "authentication": {
            "oauth_client_id": "nearline",
            "oauth_client_secret": "",
            "oauth_token_url": "http://testserver/api/v1/token",
            "oauth_scopes": "nearline",
        },
        "object_storage": {"tenancy": NO_TENANCY},
    }


@pytest.mark.security
def test_the_tenancy_served_makes_the_client_keep_the_password(client):
    """``nlds init`` and ``nlds renew`` post the password to ``http://{tenancy}:81/``: the
    tenancy served is no host, so the client's requests refuses the URL before any
    connection (the host of the object store would have had the password in clear)."""
    import requests

    from client.library.tokens import NO_TENANCY as WRITTEN_BY_NEARLINE_LOGIN

    assert NO_TENANCY == WRITTEN_BY_NEARLINE_LOGIN
    with pytest.raises(requests.exceptions.InvalidURL, match="needs no object-store keys"):
        requests.Request("POST", f"http://{NO_TENANCY}:81/.TOKEN/").prepare()


@pytest.mark.security
def test_init_never_serves_the_client_secret(settings, log):
    secret = "confidential-client-secret"
    confidential = settings.model_copy(
        update={
            "auth": settings.auth.model_copy(
                update={
                    "local": settings.auth.local.model_copy(
                        update={"client_secret": SecretStr(secret)}
                    )
                }
            )
        }
    )
    with TestClient(create_app(confidential, request_log=lambda: log)) as client:
        key = base64.b64decode(nlds(client.get("/api/1.0.0/init/token"))["token"])
        encrypted = nlds(client.get("/api/1.0.0/init/"))["encrypted_keys"]
    config = json.loads(Fernet(key).decrypt(encrypted.encode()))
    assert config["authentication"]["oauth_client_secret"] == ""
    assert secret not in json.dumps(config)


def test_health(client):
    assert client.get("/probe/healthz").status_code == 200
    page = client.get("/system/status/")
    assert page.headers["content-type"].startswith("text/html")
    # The catalog answers: cache use is shown (Kafka's part is tested against the stack).
    assert re.search(r"<p id='cache'>[\d.]+ \w+ in \d+ files", page.text)


@pytest.mark.security
def test_the_status_page_lists_failed_transactions_to_their_owner_only(client, alice, bob):
    anonymous = client.get("/system/status/").text
    assert '<p id="failed-transactions">' in anonymous
    assert "t-alice-partial" not in anonymous and "alice" not in anonymous
    assert "t-alice-partial" in client.get("/system/status/", headers=alice).text
    assert "t-alice-partial" not in client.get("/system/status/", headers=bob).text
    forged = client.get("/system/status/", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 200 and "t-alice-partial" not in forged.text
