"""Tokens of the local provider (D113): a refresh token is used once, and its reuse
revokes its whole family; a changed password or a removed user ends every token issued
before; the token endpoint is rate-limited per user and per address."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth.families import FamilyFold, MemoryFamilies, revocation, used
from api.auth.throttle import SlidingWindow
from api.auth.users import add_user, remove_user
from nearline.settings import Settings
from tests.unit.api.conftest import PASSWORD
from tests.unit.api.recording import RecordingLog

TOKEN = "/api/v1/token"


@pytest.fixture
def users(tmp_path: Path) -> Path:
    path = tmp_path / "own-users.toml"
    add_user(path, "alice", PASSWORD, ["climate"])
    add_user(path, "bob", PASSWORD, ["climate"])
    return path


@pytest.fixture
def own(settings: Settings, users: Path, log: RecordingLog) -> Iterator[TestClient]:
    """An API with its own users file (the tests change passwords) and small limits:
    3 password grants per user, 6 token requests per address, per minute."""
    local = settings.auth.local.model_copy(
        update={
            "users_file": users,
            "token_requests_per_user": 3,
            "token_requests_per_address": 6,
        }
    )
    mine = settings.model_copy(update={"auth": settings.auth.model_copy(update={"local": local})})
    with TestClient(create_app(mine, request_log=lambda: log)) as client:
        yield client


def login(client: TestClient, user: str = "alice", password: str = PASSWORD) -> dict:
    response = client.post(
        TOKEN, data={"grant_type": "password", "username": user, "password": password}
    )
    assert response.status_code == 200, response.text
    return response.json()


def refresh(client: TestClient, tokens: dict):  # type: ignore[no-untyped-def]
    return client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )


def works(client: TestClient, tokens: dict) -> bool:
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    return client.get("/api/v1/whoami", headers=headers).status_code == 200


@pytest.mark.security
def test_a_refresh_token_rotates_and_its_reuse_revokes_the_family(own):
    first = login(own)
    other = login(own)  # another login of the same user: another family
    second = refresh(own, first)
    assert second.status_code == 200
    second_tokens = second.json()
    assert second_tokens["refresh_token"] != first["refresh_token"]
    assert works(own, second_tokens)

    reused = refresh(own, first)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert "used before" in reused.json()["error_description"]
    # The whole family is revoked: the pair the first refresh gave, and the first pair.
    assert refresh(own, second_tokens).status_code == 400
    assert not works(own, second_tokens) and not works(own, first)
    # The other login is untouched.
    assert works(own, other) and refresh(own, other).status_code == 200


@pytest.mark.security
@pytest.mark.parametrize("change", ["password", "removal"])
def test_a_new_password_or_a_removed_user_ends_every_token(own, users, change):
    tokens = login(own)
    assert works(own, tokens)
    if change == "password":
        add_user(users, "alice", "a new password", ["climate"])
    else:
        remove_user(users, "alice")
    assert not works(own, tokens)
    refused = refresh(own, tokens)
    assert refused.status_code == 400
    words = "password was changed" if change == "password" else "no longer exists"
    assert words in refused.json()["error_description"]
    if change == "password":
        assert works(own, login(own, password="a new password"))


@pytest.mark.security
def test_password_grants_are_limited_per_user_then_per_address(own):
    for _ in range(3):
        own.post(TOKEN, data={"grant_type": "password", "username": "alice", "password": "x"})
    limited = own.post(
        TOKEN, data={"grant_type": "password", "username": "alice", "password": PASSWORD}
    )
    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert f"{limited.headers['Retry-After']} s" in limited.json()["error_description"]
    # bob is not alice: his guesses count apart, until the address's limit (6) is reached.
    assert login(own, "bob")["access_token"]
    assert own.post(TOKEN, data={"grant_type": "password", "username": "bob"}).status_code == 400
    assert own.post(TOKEN, data={"grant_type": "refresh_token"}).status_code == 429


def test_a_sliding_window_frees_a_slot_as_the_oldest_leaves_it():
    now = [0.0]
    window = SlidingWindow(2, 10, clock=lambda: now[0])
    assert window.take("k") == 0 and window.take("k") == 0
    now[0] = 4
    assert window.take("k") == 6  # the first leaves the window at 10
    now[0] = 10
    assert window.take("k") == 0 and window.take("other") == 0


def test_the_first_use_of_a_token_in_the_logs_order_wins_and_old_entries_go():
    now = [time.time()]
    fold = FamilyFold(keep_s=60, clock=lambda: now[0])
    a, b = used("fam", "jti", "alice", "climate"), used("fam", "jti", "alice", "climate")
    assert a.event_id != b.event_id  # two uses are two records
    fold.apply(a)
    fold.apply(b)
    assert fold.winner("fam", "jti") == a.event_id
    fold.apply(revocation(b))
    assert "fam" in fold.revoked
    now[0] += 10_000
    fold._forget_old()
    assert fold.winner("fam", "jti") is None and "fam" not in fold.revoked


def test_memory_families_refuse_a_second_use():
    families = MemoryFamilies()
    assert families.redeem("fam", "j1", "alice", "climate")
    assert families.redeem("fam", "j2", "alice", "climate")
    assert not families.redeem("fam", "j1", "alice", "climate")
    assert families.revoked("fam") and not families.redeem("fam", "j3", "alice", "climate")
