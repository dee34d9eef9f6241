"""Where logins are kept: nearline's token file, and the nlds client's files."""

from __future__ import annotations

import json
import time

import pytest
import requests

from client.library.tokens import (
    NO_TENANCY,
    Session,
    load_session,
    nlds_config,
    save_session,
    write_nlds_files,
)

TOKEN = {"access_token": "a", "refresh_token": "r", "expires_in": 3600, "token_type": "bearer"}


def test_a_session_round_trips_and_a_damaged_file_is_no_session(tmp_path):
    path = tmp_path / "nearline" / "token.json"
    save_session(Session("http://x", "alice", TOKEN, 1.0), path)
    assert load_session(path) == Session("http://x", "alice", TOKEN, 1.0)
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text("{not json")
    assert load_session(path) is None


def test_expiry_comes_a_little_before_the_servers(tmp_path):
    session = Session("http://x", "alice", TOKEN, time.time())
    assert not session.expired()
    assert session.expired(time.time() + 3600 - 10)


def test_nlds_files_without_a_config_write_one_for_this_server(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / ".nlds-config"
    token_file, written = write_nlds_files(
        Session("https://nl.example.org", "alice", TOKEN, 0), "climate", config
    )
    assert written == config and token_file == tmp_path / ".nlds-token"
    settings = json.loads(config.read_text())
    assert settings["authentication"]["oauth_token_url"] == "https://nl.example.org/api/v1/token"
    assert settings["user"] == {"default_user": "alice", "default_group": "climate"}
    assert json.loads(token_file.read_text()) == TOKEN  # the raw token reply, as nlds keeps it
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_nlds_files_follow_an_existing_config(tmp_path):
    config = tmp_path / "nlds.json"
    wanted = tmp_path / "elsewhere" / "tok"
    config.write_text(json.dumps({"authentication": {"oauth_token_file_location": str(wanted)}}))
    token_file, written = write_nlds_files(Session("http://x", "alice", TOKEN, 0), "g", config)
    assert written is None and token_file == wanted
    assert json.loads(wanted.read_text()) == TOKEN


def test_the_nlds_config_names_no_host_to_send_the_password_to(tmp_path, monkeypatch):
    """``nlds renew`` posts the password to ``http://{tenancy}:81/``: ``unused`` would go
    to whatever a DNS search domain makes of it; the tenancy written is no host at all."""
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / ".nlds-config"
    write_nlds_files(Session("https://nl.example.org", "alice", TOKEN, 0), "climate", config)
    tenancy = json.loads(config.read_text())["object_storage"]["tenancy"]
    assert tenancy == NO_TENANCY
    with pytest.raises(requests.exceptions.InvalidURL):
        requests.Request("POST", f"http://{tenancy}:81/.TOKEN/").prepare()


def test_a_config_written_by_an_older_nearline_loses_its_tenancy(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / ".nlds-config"
    old = nlds_config("https://nl.example.org", "alice", "climate")
    old["object_storage"]["tenancy"] = "unused"
    old["user"]["default_group"] = "kept"
    config.write_text(json.dumps(old))
    _token, written = write_nlds_files(Session("https://x", "alice", TOKEN, 0), "g", config)
    assert written == config
    rewritten = json.loads(config.read_text())
    assert rewritten["object_storage"]["tenancy"] == NO_TENANCY
    assert rewritten["user"]["default_group"] == "kept"  # nothing else changes
