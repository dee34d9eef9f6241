"""JSON logs of a PUT made through the API: every process that handled it wrote lines
carrying its transaction id, and no line anywhere holds the user's token or password,
the S3 secret or the database password."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx

from projections.db import make_engine
from tests.integration.accounts import chown
from tests.integration.catalog_queries import wait_for_transaction


def json_lines(path: Path) -> list[dict]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return lines


def test_a_put_logs_its_transaction_id_and_no_secret(settings, workers, api, catalog_url):
    root = Path("/tmp") / f"nearline-logs-{uuid.uuid4().hex[:8]}"
    root.mkdir(mode=0o755)
    try:
        for i in range(3):
            (root / f"f{i}.txt").write_text(f"file {i}\n")
        for path in [root, *root.iterdir()]:
            chown(os.fsencode(path), api.user, api.group)
        token = api.token()
        # A secret in the request itself, as a careless client might send it.
        reply = httpx.post(
            f"{api.url}/api/v1/puts?access_token={token}&password={api.password}",
            json={"paths": [str(root)], "label": f"logs-{uuid.uuid4().hex[:6]}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert reply.status_code == 202, reply.text
        tid = reply.json()["transaction_id"]
        engine = make_engine(catalog_url)
        try:
            assert wait_for_transaction(engine, tid).state == "COMPLETE"
        finally:
            engine.dispose()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    logs = {"api": api.log} | {name: workers.log(name) for name in workers.ports}
    # Each process that handled the PUT logged about it, with its transaction id.
    mentions = {
        name: [line for line in json_lines(path) if line.get("transaction_id") == tid]
        for name, path in logs.items()
    }
    assert any('"POST"' in line["message"] for line in mentions["api"])  # the access log
    for name in ("catalog", "indexer"):
        assert mentions[name], f"{name} logged nothing about {tid}"
    assert mentions["transfer-put"] or mentions["transfer-put-2"]
    # Lines about other work do not claim this transaction.
    assert all("decided" in line["message"] for line in mentions["catalog"])

    secrets = {
        "token": token,
        "password": api.password,
        "s3 secret": settings.s3.secret_key.get_secret_value(),
        "database password": urlparse(catalog_url).password or "",
    }
    assert all(len(value) >= 8 for value in secrets.values()), "a secret too short to test"
    for name, path in logs.items():
        text = path.read_text(errors="replace")
        for what, value in secrets.items():
            assert value not in text, f"the {what} is in the log of {name}"
