"""Workers kept for the same requester's next work (D208): lent again only to exactly that
requester, only when healthy, with nothing of the work before; ended when idle too long."""

from __future__ import annotations

import os
import resource
import signal
import time

import pytest

from stores.posix.pool import WorkerPool
from stores.posix.requesters import Requester
from stores.posix.session import UserFiles, WorkerFailed
from tests.unit.restore.conftest import ALICE, ALICE_UID, MIN_UID, STRANGER, made_dir, needs_root

pytestmark = needs_root

TEAM_MEMBER_ALICE = Requester("alice", ALICE_UID, frozenset([ALICE_UID, 56789]), ALICE_UID)


@pytest.fixture
def pool():
    workers = WorkerPool(idle_s=30.0)
    yield workers
    workers.close()


def pid(files: UserFiles) -> int:
    return files._process.pid


def alive(process_id: int) -> bool:
    try:
        os.kill(process_id, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive: it was ended but not reaped yet.
    with open(f"/proc/{process_id}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


def test_a_worker_is_lent_again_to_the_same_requester(pool):
    with pool.take(ALICE, MIN_UID, 60) as files:
        first = pid(files)
    assert pool.idle() == 1 and alive(first)
    with pool.take(ALICE, MIN_UID, 60) as files:
        assert pid(files) == first
        assert files.make_directories([]) == []  # it still answers


def test_another_requester_or_other_groups_get_a_worker_of_their_own(pool):
    with pool.take(ALICE, MIN_UID, 60) as files:
        alices = pid(files)
    with pool.take(STRANGER, MIN_UID, 60) as files:
        assert pid(files) != alices
    # Alice's groups changed since (say, she joined a team): not her old worker.
    with pool.take(TEAM_MEMBER_ALICE, MIN_UID, 60) as files:
        assert pid(files) != alices
        with open(f"/proc/{pid(files)}/status") as status:
            groups = next(line for line in status if line.startswith("Groups:"))
        assert "56789" in groups.split()


def test_a_worker_that_died_is_not_lent_again(pool):
    with pool.take(ALICE, MIN_UID, 60) as files:
        first = pid(files)
    os.kill(first, signal.SIGKILL)
    time.sleep(0.2)
    with pool.take(ALICE, MIN_UID, 60) as files:
        assert pid(files) != first
        assert files.make_directories([]) == []


def test_a_worker_left_in_the_middle_of_an_answer_is_not_kept(pool, public_dir):
    tree = made_dir(public_dir + b"/tree", 0o755, ALICE_UID)
    for n in range(1500):  # more than one message of the walk's answer
        open(tree + b"/f%d" % n, "wb").close()
    files = pool.take(ALICE, MIN_UID, 60)
    first = pid(files)
    walk = files.walk([tree])
    next(walk)  # the walk's answer is not read to its end
    files.close()
    assert pool.idle() == 0
    assert not alive(first)


def test_a_lent_worker_forgets_the_folders_of_the_work_before(pool, public_dir):
    target = made_dir(public_dir + b"/out", 0o755, ALICE_UID)
    with pool.take(ALICE, MIN_UID, 60) as files:
        files.begin_restore(target)
        assert files.make_directories([(target + b"/kept", True)]) == ["created"]
        first = pid(files)
        before = set(os.listdir(f"/proc/{first}/fd"))
    # The folder it opened for that work is closed once it is handed back.
    after = set(os.listdir(f"/proc/{first}/fd"))
    assert len(after) < len(before)


def test_idle_workers_end_after_their_time(public_dir):
    pool = WorkerPool(idle_s=0.3)
    try:
        with pool.take(ALICE, MIN_UID, 60) as files:
            first = pid(files)
        assert alive(first)
        deadline = time.monotonic() + 5
        while alive(first) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(first) and pool.idle() == 0
    finally:
        pool.close()


def test_at_most_most_workers_wait(public_dir):
    pool = WorkerPool(idle_s=30.0, most=1)
    try:
        held = [pool.take(ALICE, MIN_UID, 60), pool.take(ALICE, MIN_UID, 60)]
        pids = [pid(files) for files in held]
        for files in held:
            files.close()
        assert pool.idle() == 1
        assert not alive(pids[0]) and alive(pids[1])
    finally:
        pool.close()


def test_no_pool_when_idle_time_is_zero():
    pool = WorkerPool(idle_s=0)
    files = pool.take(ALICE, MIN_UID, 60)
    first = pid(files)
    files.close()
    assert pool.idle() == 0 and not alive(first)


def test_a_requester_nearline_does_not_serve_gets_no_worker(pool):
    with pytest.raises(PermissionError):
        pool.take(Requester("root", 0, frozenset([0]), 0), MIN_UID, 60)
    assert pool.idle() == 0


def test_an_ended_worker_is_reaped():
    files = UserFiles(ALICE, MIN_UID)
    process = files._process
    files.end()
    assert process.returncode is not None


def test_a_broken_worker_raises_and_is_not_kept(pool):
    files = pool.take(ALICE, MIN_UID, 60)
    os.kill(pid(files), signal.SIGKILL)
    with pytest.raises(WorkerFailed):
        files.make_directories([])
    files.close()
    assert pool.idle() == 0


def test_a_worker_is_ended_in_a_process_with_over_a_thousand_descriptors_open():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip("cannot open 1,100 descriptors here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open("/dev/null", os.O_RDONLY) for _ in range(1100)]
    try:
        files = UserFiles(ALICE, MIN_UID)
        process = files._process
        files.end()  # the exit is waited on through a descriptor numbered past 1023
        assert process.returncode is not None
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
