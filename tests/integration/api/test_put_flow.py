"""A PUT end to end through the API as the nlds client makes it (and through nearline's
own API): log in, put a small tree, follow the status until COMPLETE, then list and find
show the holding with each file's locations and checksums."""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
import zlib
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from domain.pack_keys import slice_of
from tests.integration.accounts import chown
from tests.integration.api.client import NldsClient, password_grant, refresh_grant

BAD_NAME = b"bad-\xff-name.nc"


def build_tree(root: Path, owner: tuple[str, str]) -> dict[bytes, bytes | None]:
    """A small tree owned by ``owner``: path → content (None for directories, links)."""
    tree = root / "run"
    (tree / "sub").mkdir(parents=True)
    files = {
        tree / "a.nc": os.urandom(5000),
        tree / "sub" / "b.nc": os.urandom(70_000),
        tree / "notes.txt": b"notes\n",
    }
    for path, data in files.items():
        path.write_bytes(data)
    with open(os.fsencode(tree) + b"/" + BAD_NAME, "wb") as f:
        f.write(b"not utf-8")
    (tree / "link").symlink_to("a.nc")
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        chown(dirpath, *owner)
        for name in dirnames + filenames:
            chown(os.path.join(dirpath, name), *owner)
    contents: dict[bytes, bytes | None] = {os.fsencode(p): d for p, d in files.items()}
    contents[os.fsencode(tree) + b"/" + BAD_NAME] = b"not utf-8"
    for other in (tree, tree / "sub", tree / "link"):
        contents[os.fsencode(other)] = None
    return contents


def checksums(data: bytes) -> dict[str, str]:
    return {"ADLER32": f"{zlib.adler32(data):08x}", "SHA256": hashlib.sha256(data).hexdigest()}


def test_the_nlds_client_puts_a_tree_and_finds_it(api_url, accounts, shared_dir):
    alice = accounts["alice"]
    expected = build_tree(shared_dir, (alice.user, alice.group))
    token = password_grant(api_url, alice.user, alice.password)
    nlds = NldsClient(api_url, alice.user, alice.group, token)
    label = f"api-nlds-{uuid.uuid4().hex[:6]}"

    # put: 202 and the request as accepted
    reply = nlds.put([str(shared_dir / "run")], label, {"project": "nearline-api"})
    assert reply["api_action"] == "put" and reply["holding_id"] == -1 and reply["label"] == label
    # stat until COMPLETE (as the client computes it)
    assert nlds.wait(reply["transaction_id"]) == "COMPLETE"

    # list: the new holding, its tags and the transaction
    [holding] = nlds.call("GET", "catalog/list/", {"label": label})["data"]["holdings"]
    assert holding["tags"] == {"project": "nearline-api"}
    assert holding["transactions"] == [reply["transaction_id"]]
    assert (holding["user"], holding["group"]) == (alice.user, alice.group)

    # find: every entry, regular files with their object and checksums
    found = nlds.call("GET", "catalog/find/", {"holding_id": holding["id"]})["data"]["holdings"]
    [entry] = found.values()
    files = {f["original_path"]: f for t in entry["transactions"].values() for f in t["filelist"]}
    assert set(files) == {p.decode("utf-8", "backslashreplace") for p in expected}
    for path, data in expected.items():
        shown = files[path.decode("utf-8", "backslashreplace")]
        if data is None:
            assert shown["locations"] == []
            continue
        assert shown["size"] == len(data) and shown["checksums"] == checksums(data)
        [location] = shown["locations"]
        assert location["storage_type"] == "OBJECT_STORAGE" and location["root"]
        url, path = unquote(location["url"]), location["path"]
        part = slice_of(path)  # a small file is a slice of a pack (D90)
        if part is not None:
            path = f"{part.pack}#bytes={part.offset}-{part.last}"
        assert url.endswith(f"/{location['root']}/{path}")
    assert files[str(shared_dir / "run" / "link")]["link_path"] == "a.nc"

    # find by regex (PostgreSQL's ~ over the path text), and by exact path
    by_regex = nlds.call(
        "GET", "catalog/find/", {"path": r"/run/.*\.nc$", "regex": True, "label": label}
    )
    names = [
        f["original_path"]
        for h in by_regex["data"]["holdings"].values()
        for t in h["transactions"].values()
        for f in t["filelist"]
    ]
    assert sorted(names) == sorted(
        p.decode("utf-8", "backslashreplace") for p in expected if p.endswith(b".nc")
    )
    bad = nlds.call("GET", "catalog/find/", {"path": r"bad-\\xff", "regex": True, "label": label})
    assert "failure" not in bad["details"]

    # the token refreshes as the client does on a 401
    renewed = refresh_grant(api_url, token)
    assert NldsClient(api_url, alice.user, alice.group, renewed).call(
        "GET", "catalog/list/", {"label": label}
    )["data"]["holdings"]


def test_other_users_see_nothing_of_it_and_cannot_pose_as_its_owner(api_url, accounts):
    alice, bob = accounts["alice"], accounts["bob"]
    bob_token = password_grant(api_url, bob.user, bob.password)
    bobs = NldsClient(api_url, bob.user, bob.group, bob_token)
    listed = bobs.call("GET", "catalog/list/", {"label": "api-nlds-never"})
    assert listed["data"]["holdings"] == [] and listed["details"]["failure"]
    assert all(h["user"] == bob.user for h in bobs.call("GET", "catalog/list/")["data"]["holdings"])
    posing = httpx.get(
        f"{api_url}/api/1.0.0/catalog/list/",
        params={"user": alice.user, "group": alice.group},
        headers={"Authorization": f"Bearer {bob_token['access_token']}"},
    )
    assert posing.status_code == 404
    assert f"User {alice.user} could not be found." in posing.text


def test_nearlines_own_api_puts_a_tree_and_finds_it_with_exact_paths(api_url, accounts, shared_dir):
    alice = accounts["alice"]
    expected = build_tree(shared_dir, (alice.user, alice.group))
    token = password_grant(api_url, alice.user, alice.password)["access_token"]
    api = httpx.Client(base_url=f"{api_url}/api/v1", headers={"Authorization": f"Bearer {token}"})
    label = f"api-v1-{uuid.uuid4().hex[:6]}"

    accepted = api.post("/puts", json={"paths": [str(shared_dir / "run")], "label": label})
    assert accepted.status_code == 202, accepted.text
    status_url = accepted.json()["status_url"].removeprefix("/api/v1")
    state = None
    for _ in range(600):
        response = api.get(status_url)
        if response.status_code == 200:
            state = response.json()["state"]
            if state in {"COMPLETE", "FAILED", "COMPLETE_WITH_ERRORS"}:
                break
        time.sleep(0.5)
    assert state == "COMPLETE"

    [holding] = api.get("/holdings", params={"label": label}).json()["holdings"]
    found = api.get("/files", params={"holding_id": holding["id"], "limit": 100}).json()["files"]
    by_bytes = {
        base64.b64decode(f["path_b64"]) if f["path_b64"] else f["path"].encode(): f for f in found
    }
    assert set(by_bytes) == set(expected)
    for path, data in expected.items():
        if data is not None:
            assert by_bytes[path]["checksums"] == checksums(data)
            assert [loc["storage_type"] for loc in by_bytes[path]["locations"]] == [
                "OBJECT_STORAGE"
            ]
    bad_path = next(p for p in expected if p.endswith(BAD_NAME))
    exact = api.get("/files", params={"path_b64": base64.b64encode(bad_path).decode()}).json()
    assert [f["holding_id"] for f in exact["files"]] == [holding["id"]]


@pytest.mark.parametrize("secret", ["AKIA-NEVER-STORED", "never-logged"])
def test_the_api_log_holds_no_object_store_keys_or_tokens(api_url, api_log, accounts, secret):
    alice = accounts["alice"]
    token = password_grant(api_url, alice.user, alice.password)
    NldsClient(api_url, alice.user, alice.group, token).call(
        "GET", "catalog/list/", {"access_key": "AKIA-NEVER-STORED", "secret_key": "never-logged"}
    )
    text = api_log.read_text(errors="replace")
    assert '"path": "/api/1.0.0/catalog/list/"' in text
    assert secret not in text and token["access_token"] not in text and alice.password not in text
