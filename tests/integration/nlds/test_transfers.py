"""``nlds put``, ``putlist``, ``get``, ``getlist`` and ``stat`` as a user runs them:
list files written one path a line with a trailing newline, the state ``stat`` shows
right after the reply and on the way, and what comes back onto disk."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from tests.integration.accounts import chown
from tests.integration.nlds.conftest import owned_files
from tests.integration.nlds.shell import Nlds

NUL_LINE = "/tmp/a-line-with-a-\0-in-it.nc"
GOOD_STATES = {
    "ROUTING",
    "INDEXING",
    "CATALOG_PUTTING",
    "TRANSFER_PUTTING",
    "CATALOG_GETTING",
    "TRANSFER_GETTING",
    "COMPLETE",
}


def label() -> str:
    return f"nlds-{uuid.uuid4().hex[:8]}"


def write_list(path: Path, lines: list[str], account) -> Path:
    """A list file as a user writes one: a path a line, each ending in a newline."""
    path.write_text("".join(f"{line}\n" for line in lines))
    chown(str(path), account.user, account.group)
    return path


def test_put_is_in_stat_at_once_and_finishes(alice: Nlds, user_dir: Path):
    [path] = owned_files(user_dir / "alice", alice.account, {"run/a.nc": os.urandom(5000)})
    for _ in range(3):  # "No transactions found" came in some tries, not all
        name = label()
        reply = alice.json("put", str(path), "-l", name, "-b", "job-" + name)
        assert reply["success"] and reply["api_action"] == "put" and reply["label"] == name
        tid = reply["transaction_id"]
        shown = alice.stat(tid)  # at once: the reply came once stat has it
        assert shown["transaction id"] == tid and shown["action"] == "put"
    done = alice.wait(tid)
    assert (done["state"], done["complete"]) == ("COMPLETE", "100%")
    assert set(done["seen"].split()) <= GOOD_STATES
    record = alice.json("stat", "-n", tid)["data"]["records"][0]
    assert record["job_label"] == "job-" + name and record["label"] == name


def test_putlist_fails_only_the_line_that_cannot_be_a_path(alice: Nlds, user_dir: Path):
    data = user_dir / "alice"
    files = {f"run/f{i}.nc": os.urandom(100 + i) for i in range(3)}
    paths = owned_files(data, alice.account, files)
    # A blank line in the middle: the client then sends the next line with its "\n".
    lines = [str(paths[0]), "", str(paths[1]), NUL_LINE, str(paths[2])]
    listing = write_list(data / "put.list", lines, alice.account)
    name = label()
    reply = alice.json("putlist", str(listing), "-l", name)
    assert reply["success"] and reply["api_action"] == "putlist"
    tid = reply["transaction_id"]
    done = alice.wait(tid)
    # Not "complete: 0%": the stored files count.
    assert done["state"] == "COMPLETE_WITH_ERRORS" and done["complete"] != "0%"
    assert alice.ok("stat", "-n", tid, "-F").splitlines() == [NUL_LINE]
    assert "path contains a NUL byte" in alice.ok("stat", "-n", tid, "-E")
    found = alice.ok("find", "-l", name, "-1").splitlines()
    assert sorted(found) == sorted(str(p) for p in paths)


def test_get_and_getlist_bring_the_files_back(alice: Nlds, user_dir: Path):
    data = user_dir / "alice"
    files = {"run/a.nc": os.urandom(3000), "run/b.nc": b"b" * 10, "run/c d.nc": b"spaced"}
    paths = owned_files(data, alice.account, files)
    listing = write_list(data / "put.list", [str(p) for p in paths], alice.account)
    put = alice.json("putlist", str(listing), "-l", label())
    assert alice.wait(put["transaction_id"])["state"] == "COMPLETE"
    for path in paths:
        path.unlink()
    # get: one file, back where it was.
    got = alice.json("get", str(paths[0]))
    assert got["success"] and got["api_action"] == "get"
    assert alice.wait(got["transaction_id"])["state"] == "COMPLETE"
    assert paths[0].read_bytes() == files["run/a.nc"]
    # getlist into a folder: the list as the user wrote it, newlines and all.
    target = data / "target"
    target.mkdir()
    chown(str(target), alice.account.user, alice.account.group)
    several = write_list(data / "get.list", [str(p) for p in paths[1:]], alice.account)
    reply = alice.json("getlist", str(several), "-r", str(target))
    assert reply["api_action"] == "getlist" and reply["target"] == str(target)
    assert alice.wait(reply["transaction_id"])["state"] == "COMPLETE"
    for path, relative in zip(paths[1:], ["run/b.nc", "run/c d.nc"], strict=True):
        assert (target / str(path).lstrip("/")).read_bytes() == files[relative]
    # A one-line list goes through GET files/, its line ending too.
    one = write_list(data / "one.list", [str(paths[0])], alice.account)
    reply = alice.json("getlist", str(one), "-r", str(target))
    assert alice.wait(reply["transaction_id"])["state"] == "COMPLETE"
    assert (target / str(paths[0]).lstrip("/")).read_bytes() == files["run/a.nc"]
    # get -x: every file whose path matches, into a folder.
    (target / str(paths[1]).lstrip("/")).unlink()
    reply = alice.json("get", "-x", "-r", str(target), r"run/b\.nc$")
    assert reply["api_action"] == "get" and reply["success"]
    assert alice.wait(reply["transaction_id"])["state"] == "COMPLETE"
    assert (target / str(paths[1]).lstrip("/")).read_bytes() == files["run/b.nc"]


def test_a_group_member_gets_with_groupall(alice: Nlds, carol: Nlds, user_dir: Path):
    [path] = owned_files(user_dir / "alice", alice.account, {"obs/x.nc": b"shared"})
    name = label()
    assert alice.wait(alice.json("put", str(path), "-l", name)["transaction_id"])["state"] == (
        "COMPLETE"
    )
    target = user_dir / "carol-out"
    target.mkdir()
    chown(str(target), carol.account.user, carol.account.group)
    assert "No holdings found" in carol.fails("list", "-l", name)
    assert name in carol.ok("list", "-A", "-l", name)
    reply = carol.json("get", "-A", "-l", name, "-r", str(target), str(path))
    assert carol.wait(reply["transaction_id"])["state"] == "COMPLETE"
    assert (target / str(path).lstrip("/")).read_bytes() == b"shared"
