"""The local provider: the OAuth2 password and refresh_token grants as the nlds client
sends them, the users file and its command line, and groups from the host."""

from __future__ import annotations

import io
import os
import pwd
import stat
import time

import jwt
import pytest

from api.auth.directory import Directory, host_groups
from api.auth.passwords import hash_password, verify_password
from api.auth.users import main, read_users
from tests.unit.api.conftest import PASSWORD, SECRET


def password_grant(client, username="alice", password=PASSWORD, **extra):
    form = {
        "grant_type": "password",
        "username": username,
        "password": password,
        "client_id": "nearline",
        "client_secret": "",
        "scope": "nearline",
    }
    return client.post("/api/v1/token", data=form | extra)


def test_the_password_grant_issues_signed_expiring_tokens(client):
    response = password_grant(client)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    access = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], issuer="nearline")
    refresh = jwt.decode(body["refresh_token"], SECRET, algorithms=["HS256"], issuer="nearline")
    assert access["sub"] == "alice" and access["groups"] == ["climate", "ocean"]
    assert access["typ"] == "access" and refresh["typ"] == "refresh"
    assert access["exp"] - access["iat"] == 3600
    assert refresh["exp"] - refresh["iat"] == 30 * 86400
    # The access token works at once.
    who = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert who.json() == {
        "user": "alice",
        "groups": ["climate", "ocean"],
        "primary_group": "climate",
    }


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong"), ("nobody", PASSWORD), ("alice", "")]
)
def test_a_wrong_password_or_unknown_user_is_a_bad_request(client, username, password):
    response = password_grant(client, username, password)
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_grant", "invalid_request"}
    assert PASSWORD not in response.text


def test_the_refresh_grant_gives_new_tokens_for_a_refresh_token_only(client):
    tokens = password_grant(client).json()
    form = {"grant_type": "refresh_token", "client_id": "nearline", "scope": "nearline"}
    renewed = client.post("/api/v1/token", data=form | {"refresh_token": tokens["refresh_token"]})
    assert renewed.status_code == 200
    assert renewed.json()["access_token"] != tokens["access_token"]
    # An access token is not a refresh token.
    refused = client.post("/api/v1/token", data=form | {"refresh_token": tokens["access_token"]})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_refresh_token_dies_with_the_account(settings, client, tokens):
    refresh = tokens.issue("dave", ("climate",))["refresh_token"]  # dave has no entry
    response = client.post(
        "/api/v1/token", data={"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert response.status_code == 400
    assert "no longer exists" in response.json()["error_description"]


def test_an_expired_refresh_token_asks_for_a_new_login(settings, client, tokens):
    tokens.clock = lambda: time.time() - 31 * 86400
    old = tokens.issue("alice", ("climate",))["refresh_token"]
    response = client.post(
        "/api/v1/token", data={"grant_type": "refresh_token", "refresh_token": old}
    )
    assert response.status_code == 400
    assert "log in again" in response.json()["error_description"]


def test_other_grant_types_are_unsupported(client):
    response = client.post("/api/v1/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_a_configured_client_secret_is_checked(settings, log):
    from fastapi.testclient import TestClient

    from api.app import create_app

    settings.auth.local.client_secret = type(settings.auth.local.client_secret)("s3cret")
    with TestClient(create_app(settings, request_log=lambda: log)) as client:
        assert password_grant(client, client_secret="wrong").status_code == 401
        assert password_grant(client, client_secret="s3cret").status_code == 200


def test_passwords_are_stored_as_salted_scrypt_hashes():
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password("pw", first) and not verify_password("pW", first)
    assert not verify_password("pw", "garbage") and not verify_password("pw", "md5$x$y$z$a$b")


def test_the_users_command_adds_and_removes_users(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret pass\n"))
    assert (
        main(
            [
                "--file",
                str(path),
                "add",
                "erin",
                "--group",
                "ice",
                "--group",
                "climate",
                "--password-stdin",
            ]
        )
        == 0
    )
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    entry = read_users(path)["erin"]
    assert entry.groups == ("ice", "climate")
    assert verify_password("s3cret pass", entry.password)
    assert "s3cret" not in path.read_text() and "s3cret" not in capsys.readouterr().out
    # A quoted, odd name survives the round trip.
    monkeypatch.setattr("sys.stdin", io.StringIO("x\n"))
    assert main(["--file", str(path), "add", 'o"dd é', "--password-stdin"]) == 0
    assert set(read_users(path)) == {"erin", 'o"dd é'}
    assert main(["--file", str(path), "remove", "erin"]) == 0
    assert main(["--file", str(path), "remove", "erin"]) == 1
    assert set(read_users(path)) == {'o"dd é'}


def test_the_directory_sees_changes_to_the_users_file(tmp_path, monkeypatch):
    path = tmp_path / "users.toml"
    directory = Directory(path)
    assert directory.groups_of("frank") is None
    monkeypatch.setattr("sys.stdin", io.StringIO("pw\n"))
    main(["--file", str(path), "add", "frank", "--group", "sea", "--password-stdin"])
    assert directory.groups_of("frank") == ("sea",)
    assert directory.check_password("frank", "pw")


def test_host_mode_takes_groups_from_the_host_and_passwords_from_the_file(tmp_path, monkeypatch):
    me = pwd.getpwuid(os.getuid()).pw_name
    groups = host_groups(me)
    assert groups and groups[0] == __import__("grp").getgrgid(os.getgid()).gr_name
    assert host_groups("no-such-user-here") is None
    path = tmp_path / "users.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("pw\n"))
    main(["--file", str(path), "add", me, "--group", "ignored", "--password-stdin"])
    directory = Directory(path, "host")
    assert directory.groups_of(me) == groups
    assert directory.check_password(me, "pw") and not directory.check_password(me, "no")
