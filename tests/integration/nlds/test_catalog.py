"""``nlds list``, ``find``, ``meta`` and ``stat``'s filters as a user runs them, and
read-your-writes: ``list`` right after ``meta`` shows the change."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx

from tests.integration.nlds.conftest import owned_files
from tests.integration.nlds.shell import Nlds, fields


def put_holding(alice: Nlds, user_dir: Path, tags: str) -> tuple[str, list[Path], str]:
    name = f"cat-{uuid.uuid4().hex[:8]}"
    files = {f"cat/{name}/a.nc": b"a" * 2048, f"cat/{name}/b.txt": b"b"}
    paths = owned_files(user_dir / "alice", alice.account, files)
    reply = alice.json("put", str(paths[0].parent), "-l", name, "-t", tags)
    assert alice.wait(reply["transaction_id"])["state"] == "COMPLETE"
    return name, paths, reply["transaction_id"]


def test_list_and_find(alice: Nlds, user_dir: Path):
    name, paths, tid = put_holding(alice, user_dir, "project:cmip7,kind:model")
    [holding] = alice.json("list", "-l", name)["data"]["holdings"]
    assert holding["tags"] == {"project": "cmip7", "kind": "model"}
    assert holding["transactions"] == [tid]
    shown = fields(alice.ok("list", "-i", str(holding["id"])))
    assert (shown["label"], shown["id"], shown["user"]) == (name, str(holding["id"]), "nl-alice")
    assert name in alice.ok("list", "-t", "project:cmip7,kind:model")
    assert "No holdings found" in alice.fails("list", "-l", name, "-t", "kind:obs")
    assert name in alice.ok("list", "-x", "-l", "^cat-" + name[4:8])
    assert len(alice.json("list", "-L", "1")["data"]["holdings"]) == 1
    # find: every file of the holding, with its size, and one by its path.
    found = alice.json("find", "-l", name)["data"]["holdings"][name]
    files = [f for t in found["transactions"].values() for f in t["filelist"]]
    assert {f["original_path"] for f in files if f["path_type"] == "FILE"} == {
        str(p) for p in paths
    }
    one = fields(alice.ok("find", "-p", str(paths[0])))
    assert (one["path"], one["size"], one["type"]) == (str(paths[0]), "2.0K", "FILE")
    assert one["storage location"] == "OBJECT_STORAGE"
    assert alice.ok("find", "-l", name, "-x", "-p", r"\.nc$", "-1").split() == [str(paths[0])]
    url = alice.ok("find", "-p", str(paths[0]), "-1", "-U").strip()
    assert url.startswith("http") and "nearline" in url
    assert "No files found" in alice.fails("find", "-l", name, "-p", "/nothing/here")
    # A second PUT into the holding by its id; list and find by transaction id.
    [extra] = owned_files(user_dir / "alice", alice.account, {f"cat/{name}-extra.nc": b"x"})
    added = alice.json("put", str(extra), "-i", str(holding["id"]))
    assert alice.wait(added["transaction_id"])["state"] == "COMPLETE"
    [again] = alice.json("list", "-n", added["transaction_id"])["data"]["holdings"]
    assert again["id"] == holding["id"] and again["transactions"] == [tid, added["transaction_id"]]
    # As in NLDS, a transaction id selects its holding: find shows all of its files.
    by_transaction = set(alice.ok("find", "-n", added["transaction_id"], "-1").split())
    assert {str(extra), *map(str, paths)} <= by_transaction


def test_meta_then_list_shows_the_change_at_once(alice: Nlds, user_dir: Path):
    name, _paths, _tid = put_holding(alice, user_dir, "stage:raw")
    current = name
    for i in range(4):  # "No holdings found" came in 2 of 5 tries
        new = f"{name}-v{i}"
        changed = alice.ok("meta", "-l", current, "-L", new, "-T", f"round:{i}")
        assert f"label   : {new}" in changed
        text = alice.ok("list", "-l", new)  # tags print one a line
        assert fields(text)["label"] == new and f"round : {i}" in text
        current = new
    reply = alice.json("meta", "-l", current, "-D", "round:")
    assert reply["data"]["holdings"][0]["new_meta"]["tags"] == {"stage": "raw"}
    assert alice.json("list", "-l", current)["data"]["holdings"][0]["tags"] == {"stage": "raw"}
    refused = alice.fails("meta", "-l", "no-such-holding", "-L", "x")
    assert "No holding of yours matches" in refused


def test_stat_filters(alice: Nlds, user_dir: Path):
    name, _paths, tid = put_holding(alice, user_dir, "f:1")
    [record] = alice.json("stat", "-n", tid)["data"]["records"]
    assert record["api_action"] == "put" and record["label"] == name
    by_id = alice.json("stat", "-i", str(record["id"]))["data"]["records"]
    assert [r["transaction_id"] for r in by_id] == [tid]
    by_job = alice.json("stat", "-b", record["job_label"])["data"]["records"]
    assert tid in [r["transaction_id"] for r in by_job]
    regex = alice.json("stat", "-x", "-b", "^" + re.escape(record["job_label"]))
    assert tid in [r["transaction_id"] for r in regex["data"]["records"]]
    puts = alice.json("stat", "-a", "put", "-s", "COMPLETE")["data"]["records"]
    assert puts and {r["api_action"] for r in puts} == {"put"}
    assert tid in [r["transaction_id"] for r in puts]
    no_puts = alice.json("stat", "-c", "put", "-c", "putlist")["data"]["records"]
    assert "put" not in {r["api_action"] for r in no_puts}
    [newest] = alice.json("stat", "-L", "1")["data"]["records"]
    [oldest] = alice.json("stat", "-L", "1", "-0")["data"]["records"]
    assert newest["id"] > oldest["id"]
    table = alice.ok("stat", "-a", "put")
    assert re.search(rf"{record['id']}\s+put\s+.*100%\s+COMPLETE", table)
    sub = alice.ok("stat", "-n", tid, "-S")
    assert "sub records" in sub and "state        : COMPLETE" in sub
    assert "no transaction records found" in alice.fails("stat", "-n", str(uuid.uuid4()))


def test_delete_then_list_and_find_show_it_gone(alice: Nlds, user_dir: Path):
    """``files/`` DELETE, which nlds 1.0.17 has no command for (it is commented out in
    the client), sent as its PUT is with the user's nlds token: the reply comes once
    list and find no longer show what it deleted."""
    name, paths, _tid = put_holding(alice, user_dir, "gone:soon")
    query = {
        "transaction_id": str(uuid.uuid4()),
        "user": "nl-alice",
        "group": "nl-climate",
        "access_key": "unused",
        "secret_key": "unused",
    }
    headers = {"Authorization": f"Bearer {alice.token()['access_token']}"}
    url = f"{alice.url}/api/1.0.0/files/"
    one = httpx.request(
        "DELETE", url, params=query, json={"filelist": [f"{paths[1]}\n"]}, headers=headers
    )
    assert one.status_code == 202, one.text
    assert "No files found" in alice.fails("find", "-p", str(paths[1]))
    query["transaction_id"] = str(uuid.uuid4())
    whole = httpx.request("DELETE", url, params=query, json={"filelist": [], "label": name})
    assert whole.status_code == 403  # no token, nothing done
    whole = httpx.request(
        "DELETE", url, params=query, json={"filelist": [], "label": name}, headers=headers
    )
    assert whole.status_code == 202, whole.text
    assert "No holdings found" in alice.fails("list", "-l", name)
