"""Files uploaded to the real S3 server come back on disk: same bytes, mode, mtime, owner."""

from __future__ import annotations

import grp
import os
import pwd
import stat

from processors.transfer_get.restore import Refusal, Restored, RestorePlan, plan, restore
from stores.failures import CORRUPT
from stores.posix.requesters import Requester, requester_for
from stores.posix.session import UserFiles
from stores.s3.object_store import ObjectStore

from .conftest import cataloged

ODD_NAME = b"odd\nname \xff"


def tree(top: bytes) -> list[bytes]:
    """A small source tree with exact nanosecond mtimes; its paths, parents first."""
    os.makedirs(top + b"/data/sub")
    contents = {
        b"/data/a.nc": os.urandom(300_000),
        b"/data/" + ODD_NAME: b"odd content\n",
        b"/data/sub/empty": b"",
    }
    modes = {b"/data/a.nc": 0o640, b"/data/" + ODD_NAME: 0o600, b"/data/sub/empty": 0o444}
    for name, data in contents.items():
        with open(top + name, "wb") as f:
            f.write(data)
        os.chmod(top + name, modes[name])
    os.symlink(b"../a.nc", top + b"/data/sub/link")
    os.symlink(b"/nowhere/at/all", top + b"/data/dangling")
    paths = [top + p for p in (b"/data", b"/data/sub", *contents, b"/data/sub/link")]
    paths.append(top + b"/data/dangling")
    for i, path in enumerate(reversed(paths)):  # deepest first: a parent's mtime stays set
        os.utime(path, ns=(0, 1_600_000_000_000_000_000 + i * 1_000_003), follow_symlinks=False)
    os.chmod(top + b"/data/sub", 0o2750)
    return paths


def apply(planned: RestorePlan, store: ObjectStore) -> list[Restored | Refusal]:
    """Carry ``planned`` out in its requester's own worker."""
    who: Requester = planned.placements[0].request.who
    with UserFiles(who, min_uid=1000) as files:
        return restore(planned, files, store).results


def read(path: bytes) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_a_tree_is_restored_below_a_target_directory(
    store: ObjectStore, transaction_id: str, public_dir: bytes, users
):
    user, group = users["alice"]
    alice = requester_for(user)
    uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    paths = tree(public_dir + b"/src")
    files = [cataloged(store, transaction_id, p) for p in paths]
    target = public_dir + b"/out"
    os.mkdir(target)
    os.chown(target, uid, gid)

    result = plan(files, target, alice, overwrite=False)
    assert result.refusals == []
    outcomes = apply(result, store)

    assert all(isinstance(o, Restored) for o in outcomes), outcomes
    for path in paths:
        source, restored = os.lstat(path), os.lstat(target + path)
        assert restored.st_mtime_ns == source.st_mtime_ns, path
        assert stat.S_IFMT(restored.st_mode) == stat.S_IFMT(source.st_mode), path
        assert (restored.st_uid, restored.st_gid) == (uid, gid), path  # the requester's
        if stat.S_ISLNK(source.st_mode):
            assert os.readlink(target + path) == os.readlink(path)
            continue
        assert stat.S_IMODE(restored.st_mode) == stat.S_IMODE(source.st_mode), path
        if stat.S_ISREG(source.st_mode):
            assert read(target + path) == read(path), path
    assert sorted(os.listdir(target + public_dir + b"/src/data")) == sorted(
        os.listdir(public_dir + b"/src/data")
    )


def test_a_corrupt_object_fails_its_file_and_leaves_nothing(
    store: ObjectStore, transaction_id: str, public_dir: bytes, users
):
    alice = requester_for(users["alice"][0])
    paths = tree(public_dir + b"/src")
    files = [cataloged(store, transaction_id, p) for p in paths]
    bad = next(f for f in files if f["path"].endswith(b"/a.nc"))
    assert bad["object_key"] is not None
    store.client.put_object(Bucket=store.bucket, Key=bad["object_key"], Body=b"tampered")
    target = public_dir + b"/out"
    os.mkdir(target)
    os.chown(target, alice.uid, pwd.getpwnam(alice.name).pw_gid)

    outcomes = apply(plan(files, target, alice, overwrite=False), store)

    assert [o for o in outcomes if isinstance(o, Refusal)] == [Refusal(bad["path"], CORRUPT)]
    restored_data = target + public_dir + b"/src/data"
    assert not os.path.lexists(target + bad["path"])
    assert b"a.nc" not in os.listdir(restored_data)
    assert not any(name.endswith(b".nearline-partial") for name in os.listdir(restored_data))
    assert read(restored_data + b"/" + ODD_NAME) == b"odd content\n"


def test_restoring_in_place_gives_the_file_to_the_requester(
    store: ObjectStore, transaction_id: str, public_dir: bytes, users
):
    """In place, as below a target, what a user restores is theirs: a recorded owner (here
    bob) is never given a file in a place alice chose (decision in docs/security.md)."""
    alice = requester_for(users["alice"][0])
    bob_name, bob_group = users["bob"]
    shared = public_dir + b"/shared"
    os.mkdir(shared, 0o777)
    os.chmod(shared, 0o777)  # alice may write it; bob's file is there
    path = shared + b"/bobs-file"
    with open(path, "wb") as f:
        f.write(b"bob's data")
    bob = (pwd.getpwnam(bob_name).pw_uid, grp.getgrnam(bob_group).gr_gid)
    os.chown(path, *bob)
    os.chmod(path, 0o664)
    entry = cataloged(store, transaction_id, path)
    os.unlink(path)

    outcomes = apply(plan([entry], None, alice, overwrite=False), store)

    assert outcomes == [Restored(path, path, len(b"bob's data"))]
    st = os.stat(path)
    assert (st.st_uid, st.st_gid) == (alice.uid, alice.primary_gid)
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o664, entry["mtime_ns"])
    assert read(path) == b"bob's data"
