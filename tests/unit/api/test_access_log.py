"""The access log: one JSON line per request, with the user, never with a token or the
object-store keys that NLDS clients send as query parameters."""

from __future__ import annotations

import json
import logging
import uuid

from api.access_log import scrubbed_query


def test_a_request_is_logged_without_keys_or_token(client, alice, caplog):
    params = {
        "transaction_id": str(uuid.uuid4()),
        "user": "alice",
        "group": "climate",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "s3cr3t-value",
        "tenancy": "tenancy.example",
        "job_label": "keep-me",
    }
    with caplog.at_level(logging.INFO, logger="nearline.api.access"):
        client.put("/api/1.0.0/files/", params=params, json={"filelist": ["/a"]}, headers=alice)
    [record] = [r for r in caplog.records if r.name == "nearline.api.access"]
    line = record.getMessage()
    token = alice["Authorization"].split()[1]
    for secret in ("AKIAEXAMPLE", "s3cr3t-value", "tenancy.example", token):
        assert secret not in line
    entry = json.loads(line)
    assert entry["user"] == "alice" and entry["status"] == 202
    assert entry["path"] == "/api/1.0.0/files/" and "job_label=keep-me" in entry["query"]


def test_a_failed_login_is_logged_without_the_password(client, caplog):
    with caplog.at_level(logging.INFO, logger="nearline.api.access"):
        client.post(
            "/api/v1/token?password=in-the-url",
            data={"grant_type": "password", "username": "alice", "password": "in-the-body"},
        )
    text = caplog.text
    assert "in-the-url" not in text and "in-the-body" not in text
    assert '"status": 400' in text and '"user": null' in text


def test_scrubbing_is_case_insensitive_and_keeps_the_rest():
    assert scrubbed_query(b"a=1&SECRET_KEY=x&Access_Key=y&b=%2Fp") == "a=1&b=%2Fp"
