"""While no decider takes requests, an accepted PUT is shown queued, not unknown; once a
decider is back it is decided and done."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import httpx

from projections.db import make_engine
from tests.integration.accounts import chown
from tests.integration.catalog_queries import wait_for_transaction


def test_a_put_shows_queued_while_the_decider_is_down(workers, api, catalog_url):
    root = Path("/tmp") / f"nearline-queued-{uuid.uuid4().hex[:8]}"
    root.mkdir(mode=0o755)
    (root / "one.txt").write_text("queued\n")
    for path in (root, root / "one.txt"):
        chown(os.fsencode(path), api.user, api.group)
    token = api.token()
    auth = {"Authorization": f"Bearer {token}"}
    workers.stop("catalog")
    try:
        reply = httpx.post(
            f"{api.url}/api/v1/puts",
            json={"paths": [str(root)], "label": f"queued-{uuid.uuid4().hex[:6]}"},
            headers=auth,
            timeout=60,
        )
        assert reply.status_code == 202, reply.text
        tid = reply.json()["transaction_id"]
        # The reply waited until STAT shows the transaction: it is there at once.
        shown = httpx.get(f"{api.url}/api/v1/transactions/{tid}", headers=auth, timeout=30)
        assert shown.status_code == 200, shown.text
        assert shown.json()["state"] == "ROUTING"
    finally:
        workers.start("catalog")
    engine = make_engine(catalog_url)
    try:
        assert wait_for_transaction(engine, tid).state == "COMPLETE"
    finally:
        engine.dispose()
        shutil.rmtree(root, ignore_errors=True)
