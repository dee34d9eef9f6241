"""GET end to end through the API and the real stack: a tree PUT, then restored from the
S3 cache onto disk by the decider and the transfer-get workers, as the requesting user.

Each test puts its own small tree (owned by alice) and follows its GETs to a final state.
"""

from __future__ import annotations

import base64
import grp
import os
import pwd
import stat
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from nearline.settings import Settings
from stores.failures import CORRUPT
from stores.s3.object_store import ObjectStore
from tests.integration.accounts import chown
from tests.integration.api.client import NldsClient, password_grant
from tests.integration.cached_copies import corrupt

FINAL = {"COMPLETE", "FAILED", "COMPLETE_WITH_ERRORS"}
MTIME_NS = 1_600_000_000_123_456_789
ODD_NAMES = [b"with space.nc", b"new\nline.nc", b"bad-\xff-name.nc"]


class Api:
    """One user's session with nearline's own API."""

    def __init__(self, url: str, user: str, password: str) -> None:
        token = password_grant(url, user, password)["access_token"]
        self.http = httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def wait(self, accepted: httpx.Response, timeout: float = 120) -> dict[str, Any]:
        assert accepted.status_code == 202, accepted.text
        url = accepted.json()["status_url"].removeprefix("/api/v1")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.http.get(url)
            if response.status_code == 200 and response.json()["state"] in FINAL:
                return response.json()
            time.sleep(0.3)
        raise TimeoutError(f"{url} did not finish")

    def put(self, paths: list[Path], label: str, tags: dict[str, str] | None = None) -> int:
        body = {"paths": [str(p) for p in paths], "label": label, "tags": tags or {}}
        assert self.wait(self.http.post("/puts", json=body))["state"] == "COMPLETE"
        [holding] = self.http.get("/holdings", params={"label": label}).json()["holdings"]
        return holding["id"]

    def get(self, **body: Any) -> dict[str, Any]:
        if isinstance(body.get("target"), Path):
            body["target"] = str(body["target"])
        body["paths"] = [_path_in(p) for p in body.get("paths", [])]
        return self.wait(self.http.post("/gets", json=body))

    def find(self, holding_id: int) -> dict[bytes, dict[str, Any]]:
        found = self.http.get("/files", params={"holding_id": holding_id, "limit": 100}).json()
        return {
            base64.b64decode(f["path_b64"]) if f["path_b64"] else f["path"].encode(): f
            for f in found["files"]
        }


def _path_in(path: bytes | Path | str) -> Any:
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"path_b64": base64.b64encode(raw).decode()}


def failures(transaction: dict[str, Any]) -> dict[bytes, str]:
    return {
        base64.b64decode(f["path_b64"]) if f["path_b64"] else f["path"].encode(): f["reason"]
        for sub in transaction["sub_records"]
        for f in sub["failed_files"]
    }


@dataclass
class Tree:
    root: bytes  # the folder PUT, inside the shared test folder
    contents: dict[bytes, bytes]  # regular files
    links: dict[bytes, bytes]  # link → its target text
    folders: list[bytes]

    def regex(self) -> str:
        return "^" + _posix_escape(self.root.decode()) + "(/|$)"


def _posix_escape(text: str) -> str:
    return "".join("\\" + c if not (c.isalnum() or c in "/_") else c for c in text)


def make_tree(base: Path, owner: tuple[str, str]) -> Tree:
    """A small tree owned by ``owner``, with set modes and mtimes, odd names, a link and an
    empty folder."""
    root = os.fsencode(base / f"run-{uuid.uuid4().hex[:6]}")
    sub, empty = root + b"/sub", root + b"/empty dir"
    contents = {root + b"/a.nc": os.urandom(3000), sub + b"/b.nc": os.urandom(20_000)}
    contents |= {root + b"/" + name: b"odd:" + name for name in ODD_NAMES}
    for folder in (root, sub, empty):
        os.mkdir(folder)
    for path, data in contents.items():
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o640)
    links = {root + b"/link": b"a.nc", sub + b"/dangling": b"../nowhere"}
    for link, text in links.items():
        os.symlink(text, link)
    for path in [*contents, *links]:
        chown(path, *owner)
        os.utime(path, ns=(MTIME_NS, MTIME_NS), follow_symlinks=False)
    for folder, mode in ((sub, 0o750), (empty, 0o700), (root, 0o755)):
        chown(folder, *owner)
        os.chmod(folder, mode)
        os.utime(folder, ns=(MTIME_NS, MTIME_NS))
    return Tree(root, contents, links, [root, sub, empty])


def user_dir(path: Path, account, mode: int = 0o755) -> Path:
    path.mkdir()
    chown(str(path), account.user, account.group)
    path.chmod(mode)
    return path


def below(target: Path, path: bytes) -> bytes:
    return os.fsencode(target) + path


def read(path: bytes) -> bytes:
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture
def apis(api_url, accounts) -> dict[str, Api]:
    return {name: Api(api_url, a.user, a.password) for name, a in accounts.items()}


@pytest.fixture
def tree(shared_dir: Path, accounts) -> Tree:
    return make_tree(shared_dir, (accounts["alice"].user, accounts["alice"].group))


def label() -> str:
    return f"get-{uuid.uuid4().hex[:8]}"


def test_a_tree_comes_back_below_a_target_as_it_was(apis, accounts, tree, shared_dir):
    alice = apis["alice"]
    holding = alice.put([Path(os.fsdecode(tree.root))], label())
    before = alice.find(holding)
    target = user_dir(shared_dir / "out", accounts["alice"])
    # GET every entry of the tree (a regex) into the target
    done = alice.get(regex=tree.regex(), target=target)
    assert done["state"] == "COMPLETE", failures(done)
    # files: content, mode, mtime, owned by alice
    uid, gid = pwd.getpwnam(accounts["alice"].user).pw_uid, grp.getgrnam("nl-climate").gr_gid
    for path, data in tree.contents.items():
        st = os.lstat(below(target, path))
        assert read(below(target, path)) == data
        assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o640, MTIME_NS)
        assert (st.st_uid, st.st_gid) == (uid, gid)
    # links as links, with their target text, dangling or not
    for link, text in tree.links.items():
        assert os.readlink(below(target, link)) == text
        assert os.lstat(below(target, link)).st_mtime_ns == MTIME_NS
    # folders, the empty one too, with their modes and mtimes
    for folder, mode in zip(tree.folders, (0o755, 0o750, 0o700), strict=True):
        st = os.stat(below(target, folder))
        assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (mode, MTIME_NS)
    assert os.listdir(below(target, tree.root + b"/empty dir")) == []
    # reading the cached copies moved their access time (eviction goes by it)
    after = alice.find(holding)
    for path in tree.contents:
        [was], [now] = before[path]["locations"], after[path]["locations"]
        assert now["access_time"] > was["access_time"]


def test_files_go_back_to_their_original_place_with_their_owner(apis, accounts, tree):
    alice = apis["alice"]
    alice.put([Path(os.fsdecode(tree.root))], label())
    lost = tree.root + b"/" + ODD_NAMES[2]
    os.unlink(lost)
    # GET one exact path, no target: back where it was
    done = alice.get(paths=[lost])
    assert done["state"] == "COMPLETE", failures(done)
    st = os.lstat(lost)
    assert read(lost) == tree.contents[lost] and st.st_mtime_ns == MTIME_NS
    assert st.st_uid == pwd.getpwnam(accounts["alice"].user).pw_uid


def test_holdings_are_chosen_by_label_id_tags_or_else_the_newest(apis, accounts, shared_dir):
    alice = apis["alice"]
    folder = user_dir(shared_dir / "versions", accounts["alice"])
    path = folder / "data.nc"
    first, second = label(), label()
    path.write_bytes(b"version 1")
    chown(str(path), accounts["alice"].user, accounts["alice"].group)
    first_id = alice.put([path], first, {"version": "1", "project": "p"})
    path.write_bytes(b"version 2")
    alice.put([path], second, {"version": "2", "project": "p"})

    def got(name: str, **selector: Any) -> bytes:
        target = user_dir(shared_dir / name, accounts["alice"])
        done = alice.get(paths=[str(path)], target=target, **selector)
        assert done["state"] == "COMPLETE", failures(done)
        return read(below(target, os.fsencode(path)))

    assert got("newest") == b"version 2"
    assert got("by-label", label=first) == b"version 1"
    assert got("by-id", holding_id=first_id) == b"version 1"
    assert got("by-tags", tags={"version": "1", "project": "p"}) == b"version 1"


def test_existing_files_are_kept_unless_overwrite_is_asked(apis, accounts, tree, shared_dir):
    alice = apis["alice"]
    alice.put([Path(os.fsdecode(tree.root))], label())
    target = user_dir(shared_dir / "out", accounts["alice"])
    a = tree.root + b"/a.nc"
    assert alice.get(paths=[a], target=target)["state"] == "COMPLETE"
    with open(below(target, a), "wb") as f:
        f.write(b"changed by the user")
    # without overwrite: refused, the user's file kept
    refused = alice.get(paths=[a], target=target)
    assert refused["state"] == "FAILED"
    assert "overwrite" in failures(refused)[a]
    assert read(below(target, a)) == b"changed by the user"
    # with overwrite: replaced
    assert alice.get(paths=[a], target=target, overwrite=True)["state"] == "COMPLETE"
    assert read(below(target, a)) == tree.contents[a]


def test_a_target_the_requester_cannot_write_is_refused(apis, tree, shared_dir):
    alice = apis["alice"]
    alice.put([Path(os.fsdecode(tree.root))], label())
    target = shared_dir / "roots"
    target.mkdir(mode=0o755)  # root's
    done = alice.get(paths=[tree.root + b"/a.nc"], target=target)
    assert done["state"] == "FAILED"
    assert "Permission denied" in failures(done)[tree.root + b"/a.nc"]  # the kernel, as alice
    assert os.listdir(target) == []


def test_a_link_below_the_target_cannot_lead_the_restore_outside(apis, accounts, tree, shared_dir):
    alice = apis["alice"]
    alice.put([Path(os.fsdecode(tree.root))], label())
    target = user_dir(shared_dir / "out", accounts["alice"])
    elsewhere = user_dir(shared_dir / "elsewhere", accounts["alice"], 0o777)
    # the first folder of the restored paths is a link to somewhere else
    first = os.fsencode(target) + b"/" + tree.root.split(b"/")[1]
    os.symlink(elsewhere, first)
    done = alice.get(paths=[tree.root + b"/a.nc"], target=target)
    assert done["state"] == "FAILED"
    assert "symbolic link" in failures(done)[tree.root + b"/a.nc"]
    assert os.listdir(elsewhere) == []


def test_a_copy_corrupted_in_s3_fails_its_file_and_leaves_nothing(
    apis, accounts, tree, shared_dir, settings: Settings
):
    alice = apis["alice"]
    holding = alice.put([Path(os.fsdecode(tree.root))], label())
    a, b = tree.root + b"/a.nc", tree.root + b"/sub/b.nc"
    [location] = alice.find(holding)[a]["locations"]
    with ObjectStore(settings) as store:  # same size, other bytes, behind nearline's back
        corrupt(store.client, location["root"], location["path"])
    target = user_dir(shared_dir / "out", accounts["alice"])
    done = alice.get(paths=[a, b], target=target)
    assert done["state"] == "COMPLETE_WITH_ERRORS"
    assert failures(done) == {a: CORRUPT}
    folder = os.path.dirname(below(target, a))
    assert os.listdir(folder) == [b"sub"]  # no bad file, no partial file
    assert read(below(target, b)) == tree.contents[b]


def test_other_users_holdings_are_invisible_but_the_group_reads_with_groupall(
    apis, accounts, tree, shared_dir
):
    name = label()
    apis["alice"].put([Path(os.fsdecode(tree.root))], name)
    a = tree.root + b"/a.nc"
    # bob (another group) selects nothing
    bob_target = user_dir(shared_dir / "bob", accounts["bob"])
    refused = apis["bob"].get(paths=[a], target=bob_target, groupall=True)
    assert refused["state"] == "FAILED" and "Nothing to get" in refused["warnings"][0]
    # carol (alice's group): not without groupall, yes with it
    carol_target = user_dir(shared_dir / "carol", accounts["carol"])
    assert apis["carol"].get(paths=[a], target=carol_target)["state"] == "FAILED"
    done = apis["carol"].get(paths=[a], target=carol_target, groupall=True, label=name)
    assert done["state"] == "COMPLETE", failures(done)
    restored = below(carol_target, a)
    assert read(restored) == tree.contents[a]
    assert os.lstat(restored).st_uid == pwd.getpwnam(accounts["carol"].user).pw_uid


def test_an_unknown_label_fails_with_a_clear_reason(apis, tree):
    done = apis["alice"].get(paths=[tree.root + b"/a.nc"], label="no-such-label-anywhere")
    assert done["state"] == "FAILED"
    assert "label 'no-such-label-anywhere'" in done["warnings"][0]


def test_the_nlds_client_gets_one_file_and_a_list(api_url, accounts, tree, shared_dir):
    account = accounts["alice"]
    nlds = NldsClient(
        api_url,
        account.user,
        account.group,
        password_grant(api_url, account.user, account.password),
    )
    put = nlds.put([os.fsdecode(tree.root)], label(), {"k": "v"})
    assert nlds.wait(put["transaction_id"]) == "COMPLETE"
    a, b = tree.root + b"/a.nc", tree.root + b"/sub/b.nc"
    one = user_dir(shared_dir / "one", account)
    # GET files/ with one filepath
    tid = str(uuid.uuid4())
    params = {"transaction_id": tid, "filepath": a.decode(), "target": str(one)}
    reply = nlds.call("GET", "files/", params)
    assert reply["api_action"] == "get"
    assert nlds.wait(tid) == "COMPLETE"
    assert read(below(one, a)) == tree.contents[a]
    # PUT files/getlist/ with a list
    many = user_dir(shared_dir / "many", account)
    tid = str(uuid.uuid4())
    body = {"filelist": [a.decode(), b.decode()]}
    reply = nlds.call("PUT", "files/getlist/", {"transaction_id": tid, "target": str(many)}, body)
    assert reply["api_action"] == "getlist"
    assert nlds.wait(tid) == "COMPLETE"
    assert read(below(many, b)) == tree.contents[b]


def make_large_tree(base: Path, owner: tuple[str, str], files: int) -> tuple[bytes, list[bytes]]:
    """A tree of ``files`` small files in nested folders, every folder with its own mode;
    the root and its folders, mtimes set after their contents."""
    root = os.fsencode(base / f"big-{uuid.uuid4().hex[:6]}")
    folders = [root, root + b"/spare"]
    folders += [root + b"/d%d" % i for i in range(5)]
    folders += [root + b"/d%d/inner" % i for i in range(5)]
    for folder in folders:
        os.mkdir(folder)
    for n in range(files):
        path = (
            root + b"/d%d/inner/f%04d" % (n % 5, n) if n % 2 else root + b"/d%d/f%04d" % (n % 5, n)
        )
        with open(path, "wb") as f:
            f.write(b"%d" % n)
        chown(path, *owner)
    for n, folder in enumerate(reversed(folders)):  # deepest first
        chown(folder, *owner)
        os.chmod(folder, 0o750 - n % 3 * 0o010)
        os.utime(folder, ns=(MTIME_NS + n, MTIME_NS + n))
    return root, folders


def test_a_get_of_several_sub_batches_gives_made_directories_their_mtimes(
    apis, accounts, shared_dir
):
    """More entries than one sub-batch holds: directories first, then the files, then the
    finishing pass (decision D34); a directory that was there before is left alone."""
    alice, owner = apis["alice"], accounts["alice"]
    root, folders = make_large_tree(shared_dir, (owner.user, owner.group), files=1005)
    alice.put([Path(os.fsdecode(root))], label())
    cataloged = {f: os.stat(f) for f in folders}
    target = user_dir(shared_dir / "out", owner)
    # the spare folder and d0 (so the root too) exist already, with modes of their own
    for existing in (root + b"/spare", root + b"/d0"):
        os.makedirs(below(target, existing))
        for folder in (below(target, existing), *_parents_below(target, existing)):
            chown(folder, owner.user, owner.group)
        os.chmod(below(target, existing), 0o700)
        os.utime(below(target, existing), ns=(MTIME_NS - 7, MTIME_NS - 7))
    done = alice.get(regex="^" + _posix_escape(root.decode()) + "(/|$)", target=target)
    assert done["state"] == "COMPLETE", failures(done)
    assert len(done["sub_records"]) >= 3  # directories, files: no record of the finishing pass
    for folder in folders:
        st = os.stat(below(target, folder))
        if folder in (root, root + b"/spare", root + b"/d0"):  # found, not made: left alone
            assert stat.S_IMODE(st.st_mode) == (0o755 if folder == root else 0o700)
            continue
        want = cataloged[folder]
        assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (
            stat.S_IMODE(want.st_mode),
            want.st_mtime_ns,
        ), folder
    # nothing was written into the spare folder: its own mtime is untouched
    assert os.stat(below(target, root + b"/spare")).st_mtime_ns == MTIME_NS - 7


def _parents_below(target: Path, path: bytes) -> list[bytes]:
    """The folders between ``target`` and ``path`` (made by the test, for alice)."""
    parents, folder = [], os.path.dirname(path)
    while folder != b"/":
        parents.append(below(target, folder))
        folder = os.path.dirname(folder)
    return parents
