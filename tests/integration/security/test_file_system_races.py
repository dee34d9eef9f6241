"""A hostile local user races nearline on a shared file system, as in the review that found
root writing through swapped folders. Each attack runs end to end through the real
processes; the user's own swapping loop runs as that user, many swaps a second.

What must hold: nothing outside what the user could touch themselves is read, written,
chowned, chmodded or removed. The victim is root's folder full of root's 0600 files with
the names the GET restores, and another user's private folder for PUT.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stores.posix.requesters import requester_for
from tests.integration.catalog_queries import holding_files, wait_for_transaction

pytestmark = pytest.mark.security

# The user runs the system's Python: the test's own may sit in a folder they cannot enter.
ATTACKERS_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
FILES = 1500  # a GET of this many files gives the swapping loop time to hit every step
ROOTS_DATA = b"root's own data\n"

# The attacker: swap ``folder`` for a link to ``victim`` and back, as fast as it can,
# until ``stop`` exists. Runs as the attacking user.
SWAPPER = textwrap.dedent(
    """
    import os, sys, time
    folder, victim, stop = sys.argv[1:4]
    aside = folder + ".aside"
    swaps = 0
    while not os.path.exists(stop):
        try:
            os.rename(folder, aside)
            os.symlink(victim, folder)
            time.sleep(0.0005)
            os.unlink(folder)
            os.rename(aside, folder)
            swaps += 1
        except OSError:
            time.sleep(0.0005)
    print(swaps)
    """
)


@pytest.fixture
def place() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="nearline-race-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def roots_folder(where: Path) -> dict[str, tuple[int, int, int, bytes]]:
    """A root-owned 0755 folder of root's 0600 files named as the restored ones; its state."""
    where.mkdir()
    for i in range(FILES):
        name = where / f"f{i:04d}"
        name.write_bytes(ROOTS_DATA)
        name.chmod(0o600)
    return state_of(where)


def state_of(where: Path) -> dict[str, tuple[int, int, int, bytes]]:
    found = {}
    for entry in os.scandir(where):
        st = entry.stat(follow_symlinks=False)
        data = Path(entry.path).read_bytes() if stat.S_ISREG(st.st_mode) else b""
        found[entry.name] = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), data)
    st = os.stat(where)
    found["."] = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), b"")
    return found


def users_tree(top: Path, owner: tuple[int, int]) -> Path:
    """The user's own tree: top/run/d/fNNNN, all theirs."""
    folder = top / "run" / "d"
    folder.mkdir(parents=True)
    for i in range(FILES):
        (folder / f"f{i:04d}").write_bytes(f"user file {i}\n".encode())
    for path in [top, top / "run", folder, *folder.iterdir()]:
        os.chown(path, *owner)
    return folder


def start_swapping(user: str, folder: Path, victim: Path, stop: Path) -> subprocess.Popen[str]:
    who = requester_for(user)
    return subprocess.Popen(
        [ATTACKERS_PYTHON, "-c", SWAPPER, str(folder), str(victim), str(stop)],
        user=who.uid,
        group=who.primary_gid,
        extra_groups=[],
        stdout=subprocess.PIPE,
        text=True,
    )


def stop_swapping(swapper: subprocess.Popen[str], stop: Path, folder: Path) -> int:
    stop.touch()
    out, _ = swapper.communicate(timeout=30)
    if folder.is_symlink():  # stopped mid-swap: put the folder back for the checks
        folder.unlink()
        Path(str(folder) + ".aside").rename(folder)
    return int(out.strip() or 0)


def put_tree(requests, engine, user, group, top: Path) -> int:
    label = f"race-{uuid.uuid4().hex[:8]}"
    put = requests.put(user=user, group=group, paths=[str(top / "run")], label=label)
    outcome = wait_for_transaction(engine, put.transaction_id, timeout=300)
    assert outcome.state == "COMPLETE", outcome
    return outcome.holding_id


def test_get_to_a_target_cannot_be_redirected_by_a_swapped_folder(
    processors, users, requests, engine, place
):
    alice, climate = users["alice"]
    who = requester_for(alice)
    users_tree(place / "src", (who.uid, who.primary_gid))
    holding = put_tree(requests, engine, alice, climate, place / "src")
    victim = place / "roots"
    before = roots_folder(victim)
    target = place / "out"
    target.mkdir()
    os.chown(target, who.uid, who.primary_gid)
    restored = Path(str(target) + str(place / "src" / "run" / "d"))
    restored.mkdir(parents=True)  # restoring into the user's existing tree
    for folder in [restored, *restored.parents]:
        if folder == target:
            break
        os.chown(folder, who.uid, who.primary_gid)
    stop = place / "stop"

    swapper = start_swapping(alice, restored, victim, stop)
    get = requests.get(
        user=alice,
        group=climate,
        holding_id=holding,
        regex=".*",
        target=str(target),
        overwrite=True,
    )
    outcome = wait_for_transaction(engine, get.transaction_id, timeout=600)
    swaps = stop_swapping(swapper, stop, restored)

    assert swaps > 0, "the attack never ran"
    assert state_of(victim) == before, "root's folder was touched through the swapped link"
    assert outcome.state in ("COMPLETE", "COMPLETE_WITH_ERRORS"), outcome
    for path in restored.iterdir():  # whatever was restored is the user's, with their data
        st = path.lstat()
        assert (st.st_uid, path.read_bytes().startswith(b"user file")) == (who.uid, True)


def test_get_in_place_cannot_be_redirected_by_a_swapped_folder(
    processors, users, requests, engine, place
):
    alice, climate = users["alice"]
    who = requester_for(alice)
    folder = users_tree(place / "home", (who.uid, who.primary_gid))
    holding = put_tree(requests, engine, alice, climate, place / "home")
    for path in folder.iterdir():
        path.unlink()
    victim = place / "roots"
    before = roots_folder(victim)
    stop = place / "stop"

    swapper = start_swapping(alice, folder, victim, stop)
    get = requests.get(user=alice, group=climate, holding_id=holding, regex=".*", overwrite=True)
    outcome = wait_for_transaction(engine, get.transaction_id, timeout=600)
    swaps = stop_swapping(swapper, stop, folder)

    assert swaps > 0, "the attack never ran"
    assert state_of(victim) == before, "root's folder was touched through the swapped link"
    assert outcome.state in ("COMPLETE", "COMPLETE_WITH_ERRORS"), outcome
    for path in folder.iterdir():
        assert path.lstat().st_uid == who.uid


def test_a_get_in_place_gives_a_file_recorded_as_roots_to_the_requester(
    processors, users, requests, engine, place
):
    """The catalog says root owned the file (it was root's, readable by all, when alice
    put it); restored into alice's folder it must be alice's, never root's."""
    alice, climate = users["alice"]
    who = requester_for(alice)
    top = place / "home"
    (top / "run").mkdir(parents=True)
    os.chown(top, who.uid, who.primary_gid)
    os.chown(top / "run", who.uid, who.primary_gid)
    roots = top / "run" / "from-root"
    roots.write_bytes(ROOTS_DATA)
    roots.chmod(0o4755)  # set-user-ID root: must never come back as such
    holding = put_tree(requests, engine, alice, climate, top)
    roots.unlink()

    get = requests.get(user=alice, group=climate, holding_id=holding, regex=".*from-root")
    outcome = wait_for_transaction(engine, get.transaction_id, timeout=300)

    assert outcome.state == "COMPLETE", outcome
    st = roots.lstat()
    assert (st.st_uid, st.st_gid) == (who.uid, who.primary_gid)
    assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID)


def test_put_cannot_be_led_into_another_users_private_folder(
    processors, users, requests, engine, place
):
    alice, climate = users["alice"]
    bob = requester_for(users["bob"][0])
    who = requester_for(alice)
    private = place / "bobs"
    private.mkdir(mode=0o700)
    secrets = {}
    for i in range(50):
        data = f"bob's secret {i} {uuid.uuid4()}\n".encode()
        (private / f"f{i:04d}").write_bytes(data)
        secrets[hashlib.sha256(data).hexdigest()] = data
    for path in [private, *private.iterdir()]:
        os.chown(path, bob.uid, bob.primary_gid)
        path.chmod(0o700 if path.is_dir() else 0o600)
    folder = users_tree(place / "src", (who.uid, who.primary_gid))
    stop = place / "stop"

    swapper = start_swapping(alice, folder, private, stop)
    label = f"race-{uuid.uuid4().hex[:8]}"
    put = requests.put(user=alice, group=climate, paths=[str(place / "src" / "run")], label=label)
    outcome = wait_for_transaction(engine, put.transaction_id, timeout=600)
    swaps = stop_swapping(swapper, stop, folder)

    assert swaps > 0, "the attack never ran"
    files = holding_files(engine, outcome.holding_id) if outcome.holding_id else {}
    stolen = [path for path, row in files.items() if row["checksums"].get("sha256") in secrets]
    assert files, "nothing of alice's own was stored"
    assert stolen == [], "bob's files were stored in alice's holding"
