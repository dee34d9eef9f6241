"""DELETE, META and quotas end to end through the API over the real stack: the decider
decides, the object deleter empties the S3 cache, the projection hides what is gone."""

from __future__ import annotations

import grp
import os
import pwd
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from nearline.settings import Settings
from stores.s3.object_store import ObjectStore
from tests.integration.accounts import chown
from tests.integration.api.client import NldsClient, password_grant
from tests.integration.api.conftest import Account
from tests.integration.cached_copies import held, object_of

FINAL = {"COMPLETE", "FAILED", "COMPLETE_WITH_ERRORS"}


class Api:
    """nearline's v1 API as one user."""

    def __init__(self, url: str, account: Account) -> None:
        token = password_grant(url, account.user, account.password)
        self.token = token
        self.account = account
        self.http = httpx.Client(
            base_url=f"{url}/api/v1",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=60,
        )

    def command(self, route: str, body: dict[str, Any]) -> str:
        reply = self.http.post(route, json=body)
        assert reply.status_code == 202, reply.text
        return reply.json()["transaction_id"]

    def wait(self, transaction_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.http.get(f"/transactions/{transaction_id}")
            if reply.status_code == 200 and reply.json()["state"] in FINAL:
                return reply.json()
            time.sleep(0.3)
        raise TimeoutError(transaction_id)

    def put(self, paths: list[Path], label: str, tags: dict[str, str] | None = None) -> dict:
        tid = self.command(
            "/puts", {"paths": [str(p) for p in paths], "label": label} | {"tags": tags or {}}
        )
        return self.wait(tid)

    def holding(self, label: str) -> dict[str, Any] | None:
        """The holding once the projection shows it (it trails the decider a moment)."""
        for _ in range(50):
            found = self.http.get("/holdings", params={"label": label}).json()["holdings"]
            if found:
                return found[0]
            time.sleep(0.1)
        return None

    def files(self, **params: Any) -> dict[str, dict[str, Any]]:
        found = self.http.get("/files", params={"limit": 1000} | params).json()["files"]
        return {f["path"]: f for f in found}


def failures(record: dict[str, Any]) -> dict[str, str]:
    return {f["path"]: f["reason"] for s in record["sub_records"] for f in s["failed_files"]}


def tree(root: Path, account: Account, sizes: dict[str, int]) -> dict[str, Path]:
    """Small files under ``root``, owned by ``account``."""
    made = {}
    for name, size in sizes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        made[name] = path
    for dirpath, dirnames, filenames in os.walk(root):
        chown(dirpath, account.user, account.group)
        for name in dirnames + filenames:
            chown(os.path.join(dirpath, name), account.user, account.group)
    return made


@pytest.fixture(scope="module")
def store(settings: Settings) -> ObjectStore:
    return ObjectStore(settings)


def object_keys(found: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        path: loc["path"]
        for path, f in found.items()
        for loc in f["locations"]
        if loc["storage_type"] == "OBJECT_STORAGE"
    }


def test_delete_paths_and_regex_removes_objects_and_the_path_may_come_back(
    api_url, accounts, shared_dir, store
):
    alice = Api(api_url, accounts["alice"])
    big = 1024 * 1024 + 5  # stored alone; the others share a pack (D90)
    sizes = {"a.nc": 3000, "sub/b.nc": 4000, "c.txt": 10, "d.big": big}
    files = tree(shared_dir / "run", accounts["alice"], sizes)
    label = f"del-{uuid.uuid4().hex[:6]}"
    assert alice.put([shared_dir / "run"], label)["state"] == "COMPLETE"
    holding = alice.holding(label)
    assert holding is not None
    keys = object_keys(alice.files(holding_id=holding["id"]))
    a, b, c, d = (str(files[n]) for n in ("a.nc", "sub/b.nc", "c.txt", "d.big"))
    pack = object_of(keys[a])
    assert pack != keys[a] and object_of(keys[b]) == object_of(keys[c]) == pack
    assert object_of(keys[d]) == keys[d]
    assert all(held(store, keys[p]) for p in (a, b, c, d))

    # One path and one that is in no holding: the file goes, the miss is reported. Its
    # bytes stay in the pack, which its neighbours still use; a file alone goes at once.
    tid = alice.command("/deletes", {"paths": [a, d, "/nowhere/x.nc"], "label": label})
    record = alice.wait(tid)
    assert record["state"] == "COMPLETE_WITH_ERRORS"
    assert failures(record) == {"/nowhere/x.nc": "No such file in your holdings."}
    assert store.exists(pack) and not store.exists(keys[d])
    assert set(alice.files(holding_id=holding["id"])) == {
        str(shared_dir / "run"),
        str(shared_dir / "run" / "sub"),
        b,
        c,
    }

    # A regex over the paths.
    record = alice.wait(alice.command("/deletes", {"regex": r"\.nc$", "label": label}))
    assert record["state"] == "COMPLETE"
    assert store.exists(pack)
    assert b not in alice.files(holding_id=holding["id"])
    assert alice.files(regex=r"\.nc$", label=label) == {}

    # A deleted path may be put again into the same holding: into a pack of its own PUT.
    assert alice.put([files["a.nc"]], label)["state"] == "COMPLETE"
    again = alice.files(holding_id=holding["id"])
    assert a in again and object_of(object_keys(again)[a]) != pack
    assert held(store, object_keys(again)[a])

    # The last file of the first pack goes: so does the pack.
    record = alice.wait(alice.command("/deletes", {"paths": [c], "label": label}))
    assert record["state"] == "COMPLETE"
    assert not store.exists(pack) and held(store, object_keys(again)[a])


def test_a_whole_holding_goes_and_its_label_is_free(api_url, accounts, shared_dir, store):
    alice = Api(api_url, accounts["alice"])
    files = tree(shared_dir / "whole", accounts["alice"], {"x.dat": 2000, "y.dat": 1000})
    label = f"whole-{uuid.uuid4().hex[:6]}"
    assert alice.put([shared_dir / "whole"], label)["state"] == "COMPLETE"
    holding = alice.holding(label)
    assert holding is not None
    keys = object_keys(alice.files(holding_id=holding["id"]))
    assert all(held(store, k) for k in keys.values())

    record = alice.wait(alice.command("/deletes", {"label": label}))
    assert record["state"] == "COMPLETE"
    assert not any(held(store, k) for k in keys.values())
    assert alice.http.get("/holdings", params={"label": label}).json()["holdings"] == []
    assert alice.files(holding_id=holding["id"]) == {}
    assert alice.http.get(f"/holdings/{holding['id']}").status_code == 404

    assert alice.put([files["x.dat"]], label)["state"] == "COMPLETE"
    renewed = alice.holding(label)
    assert renewed is not None and renewed["id"] != holding["id"]


def test_another_users_holding_is_refused_and_untouched(api_url, accounts, shared_dir, store):
    alice, bob = Api(api_url, accounts["alice"]), Api(api_url, accounts["bob"])
    files = tree(shared_dir / "mine", accounts["alice"], {"keep.nc": 1500})
    label = f"mine-{uuid.uuid4().hex[:6]}"
    assert alice.put([shared_dir / "mine"], label)["state"] == "COMPLETE"
    holding = alice.holding(label)
    assert holding is not None
    path = str(files["keep.nc"])
    key = object_keys(alice.files(holding_id=holding["id"]))[path]

    record = bob.wait(bob.command("/deletes", {"paths": [path], "holding_id": holding["id"]}))
    assert record["state"] == "FAILED"
    assert "No holding of yours" in record["warnings"][0]
    record = bob.wait(bob.command("/deletes", {"regex": ".*"}))  # his own: none has it
    assert record["state"] in {"FAILED", "COMPLETE"}
    meta = bob.http.post(f"/holdings/{holding['id']}/meta", json={"new_label": "bobs"})
    assert meta.status_code == 404
    assert held(store, key) and path in alice.files(holding_id=holding["id"])
    assert alice.holding(label) is not None


def test_unknown_label_and_invalid_regex_are_refused(api_url, accounts):
    alice = Api(api_url, accounts["alice"])
    record = alice.wait(alice.command("/deletes", {"paths": ["/a"], "label": "no-such-label"}))
    assert record["state"] == "FAILED" and "No holding of yours" in record["warnings"][0]
    bad = alice.http.post("/deletes", json={"regex": "(unclosed", "label": "x"})
    assert bad.status_code == 400 and "not a valid regular expression" in bad.json()["detail"]
    nothing = alice.http.post("/deletes", json={})
    assert nothing.status_code == 400


def test_the_nlds_client_deletes_by_the_nlds_route(api_url, accounts, shared_dir, store):
    alice = accounts["alice"]
    api = Api(api_url, alice)
    files = tree(shared_dir / "nlds", alice, {"n.nc": 1000})
    label = f"nlds-del-{uuid.uuid4().hex[:6]}"
    assert api.put([shared_dir / "nlds"], label)["state"] == "COMPLETE"
    holding = api.holding(label)
    assert holding is not None
    key = object_keys(api.files(holding_id=holding["id"]))[str(files["n.nc"])]
    assert held(store, key)
    nlds = NldsClient(api_url, alice.user, alice.group, api.token)
    tid = str(uuid.uuid4())
    body = {"filelist": [str(files["n.nc"])], "label": label}
    reply = nlds.call("DELETE", "files/", {"transaction_id": tid}, body)
    assert reply["api_action"] == "del"
    assert nlds.wait(tid) == "COMPLETE"
    assert not held(store, key)


def test_meta_relabels_and_retags_but_never_onto_a_taken_label(api_url, accounts, shared_dir):
    alice = Api(api_url, accounts["alice"])
    tree(shared_dir / "m", accounts["alice"], {"m.dat": 100})
    one, two = (f"meta-{n}-{uuid.uuid4().hex[:6]}" for n in ("one", "two"))
    assert alice.put([shared_dir / "m"], one, {"stage": "raw", "x": "1"})["state"] == "COMPLETE"
    assert alice.put([shared_dir / "m"], two)["state"] == "COMPLETE"
    first, second = alice.holding(one), alice.holding(two)
    assert first is not None and second is not None

    taken = alice.http.post(f"/holdings/{first['id']}/meta", json={"new_label": two})
    assert taken.status_code == 400 and "taken" in taken.json()["detail"]

    renamed = f"{one}-final"
    tid = alice.command(
        f"/holdings/{first['id']}/meta",
        {"new_label": renamed, "add_tags": {"stage": "final"}, "remove_tags": ["x"]},
    )
    assert alice.wait(tid)["state"] == "COMPLETE"
    shown = alice.http.get(f"/holdings/{first['id']}").json()
    assert (shown["label"], shown["tags"]) == (renamed, {"stage": "final"})
    assert alice.http.get("/holdings", params={"label": one}).json()["holdings"] == []
    # The old label is free: a PUT with it makes a new holding.
    assert alice.put([shared_dir / "m"], one)["state"] == "COMPLETE"
    fresh = alice.holding(one)
    assert fresh is not None and fresh["id"] not in {first["id"], second["id"]}


def test_a_put_over_quota_fails_before_any_transfer(api_url, accounts, shared_dir, store):
    carol = Api(api_url, accounts["carol"])
    tree(shared_dir / "big", accounts["carol"], {"big.bin": 20_000})
    label = f"quota-{uuid.uuid4().hex[:6]}"
    record = carol.put([shared_dir / "big"], label)
    assert record["state"] == "FAILED"
    [reason] = set(failures(record).values())
    assert "cache quota of user nl-carol is 10000 bytes" in reason and "adds 20000 bytes" in reason
    holding = carol.holding(label)
    assert holding is not None
    prefix = f"h{holding['id']}/"
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=prefix)
    assert listed.get("KeyCount", 0) == 0
    quota = carol.http.get("/quota").json()
    assert quota["user"]["cache"] == {"used_bytes": 0, "limit_bytes": 10_000}
    # The host account may predate this suite, in another group: ask the host.
    group = grp.getgrgid(pwd.getpwnam(accounts["carol"].user).pw_gid).gr_name
    assert quota["group"]["name"] == group and quota["group"]["cache"]["limit_bytes"] is None


def test_removing_absent_objects_is_fine(store):
    missing = f"h0/{uuid.uuid4()}/never-stored"
    assert store.delete_many([missing, missing + "-2"]) == []
