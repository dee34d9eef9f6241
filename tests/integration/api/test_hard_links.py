"""Hard links within a PUT come back from a GET as hard links (decision D133), on the
real stack: the indexer notes each link group, the catalog keeps it, the decider plans a
group into one sub-batch and the requester's worker links the files it restores."""

from __future__ import annotations

import os
import pwd
import stat
import uuid
from pathlib import Path

import pytest

from tests.integration.accounts import chown
from tests.integration.api.test_get_flow import (
    MTIME_NS,
    Api,
    _posix_escape,
    below,
    failures,
    label,
    read,
    user_dir,
)


@pytest.fixture
def apis(api_url, accounts) -> dict[str, Api]:
    return {name: Api(api_url, a.user, a.password) for name, a in accounts.items()}


def make_linked_tree(base: Path, owner: tuple[str, str], fillers: int = 0) -> tuple[bytes, dict]:
    """A tree with a hard-linked pair and triple (their names far apart in walk order,
    with ``fillers`` files between them) and a plain file: its root, and the contents."""
    root = os.fsencode(base / f"links-{uuid.uuid4().hex[:6]}")
    for folder in (root, root + b"/m", root + b"/zz", root + b"/zz/deep"):
        os.mkdir(folder)
    contents = {
        root + b"/a-pair": os.urandom(5000),
        root + b"/a-triple": os.urandom(7000),
        root + b"/plain": b"plain",
    }
    contents |= {root + b"/m/f%04d" % n: b"%d" % n for n in range(fillers)}
    for path, data in contents.items():
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o640)
    pair = [root + b"/a-pair", root + b"/zz/pair"]
    triple = [root + b"/a-triple", root + b"/zz/triple", root + b"/zz/deep/triple"]
    for group in (pair, triple):
        for other in group[1:]:
            os.link(group[0], other)
            contents[other] = contents[group[0]]
    for path in contents:
        chown(path, *owner)
        os.utime(path, ns=(MTIME_NS, MTIME_NS))
    for folder in (root + b"/zz/deep", root + b"/zz", root + b"/m", root):
        chown(folder, *owner)
        os.chmod(folder, 0o755)
    return root, contents


def inode(path: bytes) -> int:
    return os.lstat(path).st_ino


def test_hard_links_of_a_put_come_back_as_one_inode_each(apis, accounts, shared_dir):
    """More files than a sub-batch holds lie between the first and the last name of each
    group: the PUT indexes them in different sub-batches, the GET plans them together."""
    alice, owner = apis["alice"], accounts["alice"]
    root, contents = make_linked_tree(shared_dir, (owner.user, owner.group), fillers=1005)
    holding = alice.put([Path(os.fsdecode(root))], label())
    target = user_dir(shared_dir / "out", owner)

    done = alice.get(regex="^" + _posix_escape(root.decode()) + "(/|$)", target=target)

    assert done["state"] == "COMPLETE", failures(done)
    assert len(done["sub_records"]) >= 2
    pair = [below(target, root + p) for p in (b"/a-pair", b"/zz/pair")]
    triple = [below(target, root + p) for p in (b"/a-triple", b"/zz/triple", b"/zz/deep/triple")]
    for group in (pair, triple):
        assert len({inode(p) for p in group}) == 1
        assert all(os.lstat(p).st_nlink == len(group) for p in group)
    assert inode(pair[0]) != inode(triple[0])
    assert os.lstat(below(target, root + b"/plain")).st_nlink == 1
    uid = pwd.getpwnam(owner.user).pw_uid
    for path, data in contents.items():
        st = os.lstat(below(target, path))
        assert read(below(target, path)) == data
        assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_uid) == (0o640, MTIME_NS, uid)
    # every name keeps a copy of its own in the catalog
    params = {"holding_id": holding, "regex": "/(a-pair|zz/pair)$"}
    found = alice.http.get("/files", params=params).json()["files"]
    assert len(found) == 2 and all(f["locations"] for f in found)


def test_some_of_a_group_come_back_linked_among_themselves_and_outlive_a_delete(
    apis, accounts, shared_dir
):
    alice, owner = apis["alice"], accounts["alice"]
    root, contents = make_linked_tree(shared_dir, (owner.user, owner.group))
    name = label()
    alice.put([Path(os.fsdecode(root))], name)
    one, two = root + b"/zz/triple", root + b"/zz/deep/triple"

    # one file of the pair alone: a file of its own
    alone = user_dir(shared_dir / "alone", owner)
    done = alice.get(paths=[root + b"/zz/pair"], target=alone)
    assert done["state"] == "COMPLETE", failures(done)
    restored = below(alone, root + b"/zz/pair")
    assert read(restored) == contents[root + b"/a-pair"] and os.lstat(restored).st_nlink == 1

    # two of the triple: linked to each other, the third not restored
    some = user_dir(shared_dir / "some", owner)
    done = alice.get(paths=[one, two], target=some)
    assert done["state"] == "COMPLETE", failures(done)
    assert inode(below(some, one)) == inode(below(some, two))
    assert os.lstat(below(some, one)).st_nlink == 2
    assert not os.path.lexists(below(some, root + b"/a-triple"))

    # deleting the first of the triple loses nothing of the others
    deleted = alice.wait(
        alice.http.post(
            "/deletes", json={"paths": [os.fsdecode(root + b"/a-triple")], "label": name}
        )
    )
    assert deleted["state"] == "COMPLETE", deleted
    after = user_dir(shared_dir / "after", owner)
    done = alice.get(paths=[one, two], target=after, label=name)
    assert done["state"] == "COMPLETE", failures(done)
    assert read(below(after, one)) == contents[root + b"/a-triple"]
    assert inode(below(after, one)) == inode(below(after, two))
