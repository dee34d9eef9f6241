"""``GET /quota`` over the story's catalog, and the DELETE forms both surfaces accept."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from api.app import create_app
from events.requests import DeleteRequested
from nearline.settings import Settings
from projections.db import make_engine
from projections.usage import cache_bytes
from tests.unit.api.conftest import nlds

V1 = "/api/v1"


def test_quota_shows_use_from_the_catalog_and_limits_from_settings(settings: Settings, log, alice):
    quotas = {"users": {"alice": {"cache_bytes": 10**9}}, "groups": {}}
    limited = Settings(**{**settings.model_dump(), "quotas": quotas})
    with TestClient(create_app(limited, request_log=lambda: log)) as client:
        shown = client.get(f"{V1}/quota", headers=alice).json()
    with make_engine(limited.catalog.url).connect() as conn:
        mine, group = cache_bytes(conn, user="alice"), cache_bytes(conn, group="climate")
    assert mine > 0 and group >= mine
    assert shown["user"] == {
        "name": "alice",
        "cache": {"used_bytes": mine, "limit_bytes": 10**9},
        "tape": {"used_bytes": 0, "limit_bytes": None},
    }
    assert shown["group"]["name"] == "climate"
    assert shown["group"]["cache"] == {"used_bytes": group, "limit_bytes": None}


def test_quota_of_a_group_not_yours_is_forbidden(client, alice):
    assert client.get(f"{V1}/quota", params={"group": "physics"}, headers=alice).status_code == 403


def test_a_whole_holding_delete_needs_a_selector(client, alice, log):
    accepted = client.post(f"{V1}/deletes", json={"label": "run"}, headers=alice)
    assert accepted.status_code == 202, accepted.text
    [event] = log.events
    assert isinstance(event, DeleteRequested)
    assert (event.paths, event.regex, event.label, event.api_action) == ([], None, "run", "del")
    refused = client.post(f"{V1}/deletes", json={}, headers=alice)
    assert refused.status_code == 400 and refused.json()["field"] == "filelist"


def test_the_nlds_delete_route_takes_paths_or_one_regex(client, alice, log):
    params = {"user": "alice", "group": "climate", "transaction_id": str(uuid.uuid4())}
    body = {"filelist": ["/data/a", "/data/b"], "label": "run"}
    reply = nlds(
        client.request("DELETE", "/api/1.0.0/files/", params=params, json=body, headers=alice)
    )
    assert reply["api_action"] == "dellist" and reply["label"] == "run"
    params["transaction_id"] = str(uuid.uuid4())
    regex = {"filelist": [r"\.nc$"]}
    nlds(
        client.request(
            "DELETE",
            "/api/1.0.0/files/",
            params=params | {"regex": True},
            json=regex,
            headers=alice,
        )
    )
    assert [(e.paths, e.regex) for e in log.events] == [
        ([b"/data/a", b"/data/b"], None),
        ([], r"\.nc$"),
    ]
    params["transaction_id"] = str(uuid.uuid4())
    bad = client.request(
        "DELETE",
        "/api/1.0.0/files/",
        params=params | {"regex": True},
        json={"filelist": ["("]},
        headers=alice,
    )
    assert bad.status_code == 400 and "not a valid regular expression" in bad.text
