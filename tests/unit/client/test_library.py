"""The client library over the API: login and refresh, queries, commands with exact
paths, and errors that carry the API's message and what to do."""

from __future__ import annotations

import base64
import json
import time

import pytest

from client.library import Client, LoginFailed, NotFound, NotLoggedIn, Refused
from events.carts import CartRequested
from events.requests import PutRequested
from tests.unit.api import story
from tests.unit.client.conftest import SERVER


def test_login_keeps_the_tokens_readable_by_the_owner_only(nearline, session_path):
    assert session_path.stat().st_mode & 0o777 == 0o600
    stored = json.loads(session_path.read_text())
    assert stored["server"] == SERVER and stored["user"] == "alice"
    assert nearline.whoami()["user"] == "alice"


def test_a_wrong_password_is_refused_and_nothing_is_kept(client, session_path):
    library = Client(SERVER, session_path=session_path, http=client)
    with pytest.raises(LoginFailed, match="Login refused"):
        library.login("alice", "wrong")
    assert not session_path.exists()


def test_without_a_login_every_call_says_to_log_in(client, session_path):
    library = Client(SERVER, session_path=session_path, http=client)
    with pytest.raises(NotLoggedIn) as raised:
        library.holdings()
    assert raised.value.hint == "Run `nearline login`."


def test_an_expired_access_token_is_refreshed_first(nearline, session_path):
    before = nearline.session.access_token
    nearline.session.obtained_at = time.time() - 7200  # the 1 h access token has expired
    time.sleep(1.1)  # a new token differs in its issue time
    assert [h["label"] for h in nearline.holdings(label="run")] == ["run"]
    assert nearline.session.access_token != before
    assert json.loads(session_path.read_text())["token"]["access_token"] != before


def test_a_refused_refresh_means_logging_in_again(nearline):
    nearline.session.token["refresh_token"] = "not-a-token"
    nearline.session.obtained_at = 0
    with pytest.raises(NotLoggedIn, match="expired"):
        nearline.holdings()


def test_queries_with_filters(nearline):
    [run] = nearline.holdings(label="run", tags={"project": "cmip7"})
    assert run["tags"] == {"project": "cmip7", "kind": "model"}
    files = nearline.files(holding_id=run["id"], regex=r"\.nc$", limit=2, descending=True)
    assert [f["path"] for f in files] == ["/data/run/d.nc", "/data/run/c.nc"]
    [failed] = nearline.transactions(state=["COMPLETE_WITH_ERRORS"])
    assert failed["transaction_id"] == "t-alice-partial"
    assert nearline.transaction("t-alice-partial")["sub_records"][0]["failed_files"]


def test_a_path_that_is_not_utf8_is_found_and_sent_byte_for_byte(nearline, log):
    [bad] = nearline.files(path=story.BAD)
    assert base64.b64decode(bad["path_b64"]) == story.BAD
    nearline.put([story.BAD, "/data/ok.nc"], label="new")
    event = log.events[-1]
    assert isinstance(event, PutRequested) and event.paths == [story.BAD, b"/data/ok.nc"]


def test_the_apis_message_becomes_the_error(nearline):
    with pytest.raises(Refused, match="absolute"):
        nearline.put(["relative/path"])
    with pytest.raises(NotFound, match="no transaction"):
        nearline.transaction("no-such-transaction")


def test_quota_reports_the_user_and_the_group(nearline):
    quota = nearline.quota()
    assert quota["user"]["name"] == "alice" and "group" in quota


def test_a_cart_request_records_the_find_filters(nearline, log, settings):
    cart = nearline.create_cart([story.BAD], label="run", tags={"kind": "model"})
    assert cart["state"] == "waiting"
    event = log.events[-1]
    assert isinstance(event, CartRequested) and event.cart_id == cart["cart_id"]
    assert event.paths == [story.BAD] and event.label == "run"
    assert event.max_files == settings.carts.max_files and event.user == "alice"
    with pytest.raises(Refused, match="not both"):
        nearline.create_cart(["/data/x"], regex="x")
    with pytest.raises(NotFound, match="no cart"):
        nearline.cart(cart["cart_id"])  # not projected here: nothing applies the log


def test_the_cart_routes_are_documented_and_authenticated(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/carts", "/carts/{cart_id}", "/carts/{cart_id}/download"} <= set(paths)
    assert set(paths["/carts/{cart_id}"]) == {"get", "head", "delete"}
    some_cart = "/api/v1/carts/00000000-0000-4000-8000-000000000000"
    for method in ("GET", "HEAD", "DELETE"):
        assert client.request(method, some_cart).status_code == 403
    assert client.get(some_cart + "/download").status_code == 403
    assert client.post("/api/v1/carts", json={}).status_code == 403
