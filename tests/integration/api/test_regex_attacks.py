"""A hostile user's regular expressions (D91): patterns on which a backtracking engine runs
for hours, in FIND, GET and DELETE, against paths made for them, while another user's
small PUT is timed. The decider serves every user from one agent: had it matched with
Python's ``re``, the first DELETE would have held it, and the PUT with it, for hours.

What must hold: the other user's PUT completes in about its usual time; every attack is
answered (FIND at once, GET and DELETE decided); a pattern too long or invalid is a 400,
and one that reaches the decider without the API fails that request with the reason.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from events.base import event_id_for
from events.requests import DeleteRequested
from nearline.requests import RequestLog
from nearline.settings import Settings
from processors.catalog.deleting import NO_MATCH
from tests.integration.accounts import chown
from tests.integration.api.conftest import Account
from tests.integration.api.test_delete_meta import Api, failures, tree

pytestmark = pytest.mark.security

# Each is hours of backtracking for re on the bait's paths; RE2 answers in microseconds.
CATASTROPHIC = [r"(a+)+$", r"(x+x+)+y", r"^(/?[a-z0-9]+)+\.nc$"]
BAIT = {"a" * 40 + "!": 100, "x" * 44: 100, "abcdefgh" * 5 + ".nc4": 100}


def timed_put(api: Api, folder: Path, account: Account, label: str) -> tuple[str, float]:
    """Bob's small PUT: its transaction id, once recorded, and when it was sent."""
    tree(folder, account, {"one.dat": 2000, "two.dat": 3000})
    sent = time.monotonic()
    return api.command("/puts", {"paths": [str(folder)], "label": label}), sent


def forged_delete(settings: Settings, account: Account, regex: str, label: str) -> str:
    """A DELETE recorded without the API's checks (as a tool could): the decider judges."""
    transaction_id = str(uuid.uuid4())
    event = DeleteRequested(
        event_id=event_id_for(transaction_id, "requested"),
        transaction_id=transaction_id,
        user=account.user,
        group=account.group,
        cause_id=None,
        occurred_at=int(time.time() * 1000),
        paths=[],
        regex=regex,
        label=label,
        holding_id=None,
        tags={},
        job_label="forged",
        api_action="del",
    )
    log = RequestLog(settings)
    try:
        log.record(event)
    finally:
        log.close()
    return transaction_id


def test_catastrophic_regexes_of_one_user_do_not_slow_another_users_put(
    settings, api_url, accounts, shared_dir
):
    alice, bob = Api(api_url, accounts["alice"]), Api(api_url, accounts["bob"])
    bait = f"bait-{uuid.uuid4().hex[:6]}"
    tree(shared_dir / "bait", accounts["alice"], BAIT)
    assert alice.put([shared_dir / "bait"], bait)["state"] == "COMPLETE"
    target = shared_dir / "restored"
    target.mkdir()
    chown(str(target), accounts["alice"].user, accounts["alice"].group)

    # Bob's PUT on a quiet system: the yardstick.
    tid, sent = timed_put(bob, shared_dir / "quiet", accounts["bob"], f"q-{bait}")
    assert bob.wait(tid)["state"] == "COMPLETE"
    quiet = time.monotonic() - sent

    # The attack: DELETEs and GETs to the decider, then bob's PUT, then FINDs to the API.
    deletes = [alice.command("/deletes", {"regex": p, "label": bait}) for p in CATASTROPHIC]
    gets = [
        alice.command("/gets", {"regex": p, "label": bait, "target": str(target)})
        for p in CATASTROPHIC
    ]
    tid, sent = timed_put(bob, shared_dir / "busy", accounts["bob"], f"b-{bait}")
    for pattern in CATASTROPHIC:
        started = time.monotonic()
        found = alice.http.get("/files", params={"regex": pattern, "label": bait})
        assert found.status_code == 200, found.text
        assert found.json()["files"] == []
        assert time.monotonic() - started < 10
    record = bob.wait(tid, timeout=3 * quiet + 30)
    busy = time.monotonic() - sent
    assert record["state"] == "COMPLETE"
    assert busy < 3 * quiet + 20, f"bob's PUT took {busy:.1f} s under attack, {quiet:.1f} s quiet"

    # Every attack was decided: nothing matched, nothing was deleted or restored.
    for tid in deletes:
        done = alice.wait(tid)
        assert done["state"] == "FAILED" and set(failures(done).values()) == {NO_MATCH}
    for tid in gets:
        done = alice.wait(tid)
        assert done["state"] == "FAILED" and "Nothing to get" in done["warnings"][0]
    assert len(alice.files(label=bait)) == len(BAIT) + 1  # the folder and its files
    assert list(target.iterdir()) == []

    # Too long or invalid: a 400 that says why, from the API; the decider, given one
    # without the API, fails that request with the reason and goes on.
    for pattern, words in [("x" * 1001, "at most 1000"), (r"(a)\1", "not a valid")]:
        refused = alice.http.post("/deletes", json={"regex": pattern, "label": bait})
        assert refused.status_code == 400 and words in refused.json()["detail"]
        refused = alice.http.get("/files", params={"regex": pattern})
        assert refused.status_code == 400 and words in refused.json()["detail"]
    forged = alice.wait(forged_delete(settings, accounts["alice"], "x" * 1001, bait))
    assert forged["state"] == "FAILED" and "at most 1000" in forged["warnings"][0]
    assert len(alice.files(label=bait)) == len(BAIT) + 1
