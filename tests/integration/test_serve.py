"""``nearline-admin serve`` on the real stack: every supervised process, SIGKILLed once,
is found running again with a new pid, and then does its work: a PUT through the API,
archived to tape and evicted, a GET back from tape and a cart, each to its end. SIGTERM
to the supervisor, and even SIGKILL, leaves no process of it behind."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from admin import processes, supervisor
from api.auth.users import add_user
from nearline import bus
from nearline.daemons import group_alive, pid_alive
from nearline.settings import Settings
from projections.db import make_engine
from stores.tape.endpoint import TapeEndpoint
from tests.integration.accounts import chown
from tests.integration.archive.recall_helpers import archive_evict_and_purge
from tests.integration.conftest import TEST_QUOTAS

FINAL = {"COMPLETE", "COMPLETE_WITH_ERRORS", "FAILED"}


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def supervised_state(settings: Settings) -> dict[str, dict[str, Any]]:
    state = supervisor.read_state(settings)
    assert state is not None and state["alive"], "the supervisor is not running"
    return dict(state["processes"])


@pytest.fixture
def alone(settings: Settings, catalog_url: str) -> Iterator[dict[str, str]]:
    """No other instance of nearline's processes in this home, so that the work is done by
    the supervised ones; those running before (the session's) are started again after.
    Yields the environment the processors of the tests get."""
    before = [name for name, pid in processes.running(settings).items() if pid]
    processes.stop(settings)
    env = {
        "NEARLINE_CATALOG__URL": catalog_url,
        "NEARLINE_QUOTAS": json.dumps(TEST_QUOTAS),
        "NEARLINE_ARCHIVE__SWEEP_INTERVAL_S": "86400",
        "NEARLINE_EVICTION__INTERVAL_S": "86400",
    }
    yield env
    if before:
        processes.start(settings, before, env=env, log=lambda _line: None)


@pytest.fixture
def api_env(settings, alone, users, tmp_path) -> tuple[dict[str, str], str, str]:
    """The supervised processes' environment, with an API on a port of its own that logs
    alice in; and alice's password and the API's URL."""
    port = settings.ports.api + 70
    with httpx.Client() as probe:
        try:
            probe.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except httpx.TransportError:
            pass
        else:
            pytest.fail(f"port {port} is taken")
    password = f"pw-{uuid.uuid4().hex}"
    add_user(tmp_path / "users.toml", users["alice"][0], password, [])
    env = alone | {
        "NEARLINE_AUTH__LOCAL__DIRECTORY": "host",
        "NEARLINE_AUTH__LOCAL__USERS_FILE": str(tmp_path / "users.toml"),
        "NEARLINE_PORTS__API": str(port),
        "NEARLINE_SERVE__BACKOFF_INITIAL_S": "0.5",
    }
    return env, password, f"http://127.0.0.1:{port}"


class Api:
    def __init__(self, url: str, user: str, password: str) -> None:
        reply = httpx.post(
            f"{url}/api/v1/token",
            data={"grant_type": "password", "username": user, "password": password},
            timeout=60,
        )
        assert reply.status_code == 200, reply.text
        token = reply.json()["access_token"]
        self.http = httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def run(self, route: str, body: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
        accepted = self.http.post(route, json=body)
        assert accepted.status_code == 202, accepted.text
        url = accepted.json()["status_url"].removeprefix("/api/v1")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.http.get(url)
            if shown.status_code == 200 and shown.json()["state"] in FINAL:
                return dict(shown.json())
            time.sleep(0.3)
        raise AssertionError(f"{route} {body} did not finish within {timeout:.0f}s")

    def cart(self, label: str, timeout: float = 300) -> dict[str, Any]:
        created = self.http.post("/carts", json={"label": label})
        assert created.status_code == 202, created.text
        cart_id = created.json()["cart_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.http.get(f"/carts/{cart_id}")
            if shown.status_code == 200 and shown.json()["state"] in ("ready", "error"):
                return dict(shown.json())
            time.sleep(0.3)
        raise AssertionError(f"cart {cart_id} was not ready within {timeout:.0f}s")


def kill_each_once(settings: Settings) -> dict[str, int]:
    """SIGKILL every supervised process in turn; wait for each to run again with a new
    pid. Returns the new pids."""
    fresh = {}
    for name, entry in supervised_state(settings).items():
        old = entry["pid"]
        assert entry["state"] == supervisor.RUNNING and old, (name, entry)
        os.kill(old, signal.SIGKILL)

        def again(name: str = name, old: int = old) -> bool:
            now = supervised_state(settings)[name]
            return now["state"] == supervisor.RUNNING and now["pid"] not in (None, old)

        wait_until(again, 60, f"{name} to run again")
        now = supervised_state(settings)[name]
        assert now["restarts"] == 1 and now["last_exit"] == -signal.SIGKILL
        assert pid_alive(now["pid"]) and not pid_alive(old)
        fresh[name] = now["pid"]
    return fresh


def test_each_process_killed_runs_again_and_does_its_work(
    settings, api_env, users, public_dir, catalog_url
):
    env, password, url = api_env
    alice, climate = users["alice"]
    base = Path(os.fsdecode(public_dir))
    tree, target = base / "tree", base / "target"
    contents = {"a.dat": os.urandom(5000), "sub/b.dat": os.urandom(90_000)}
    for folder in (tree, tree / "sub", target):
        folder.mkdir()
        chown(str(folder), alice, climate)
    for name, data in contents.items():
        (tree / name).write_bytes(data)
        chown(str(tree / name), alice, climate)
    engine = make_engine(catalog_url)
    seen: dict[str, int] = {}
    try:
        with supervisor.supervised(settings, env, timeout=120) as serving:
            names = supervisor.plan(settings)
            assert list(supervised_state(settings)) == names  # the API and every processor
            seen = {n: e["pid"] for n, e in supervised_state(settings).items()}
            status = subprocess.run(
                [sys.executable, "-m", "admin", "serve", "--status"],
                capture_output=True,
                text=True,
            )
            assert status.returncode == 0, status.stderr
            assert f"supervisor pid {serving.pid}, running" in status.stdout

            fresh = kill_each_once(settings)
            assert set(fresh) == set(names)

            # The work, through the restarted processes: PUT (api, catalog, indexer,
            # transfer-put, projections), archive and evict (archive-put, evict,
            # delete-objects), GET from tape (archive-get, transfer-get), a cart (carts).
            wait_until(lambda: _ready(url), 120, "the API to be ready")
            api = Api(url, alice, password)
            label = f"serve-{uuid.uuid4().hex[:8]}"
            put = api.run("/puts", {"paths": [str(tree)], "label": label})
            assert put["state"] == "COMPLETE", put
            [holding] = api.http.get("/holdings", params={"label": label}).json()["holdings"]
            tape = TapeEndpoint(settings.tape.url, settings.tape.root)
            archive_evict_and_purge(settings, engine, bus.producer(settings), tape, holding["id"])
            got = api.run("/gets", {"regex": ".", "label": label, "target": str(target)})
            assert got["state"] == "COMPLETE", got
            for name, data in contents.items():
                assert (target / tree.relative_to("/") / name).read_bytes() == data
            cart = api.cart(label)
            assert cart["state"] == "ready", cart
            download = api.http.get(f"/carts/{cart['cart_id']}/download")
            assert download.status_code == 200, download.text
            with tarfile.open(fileobj=io.BytesIO(download.content)) as tar:
                members = {m.name for m in tar.getmembers() if m.isfile()}
            assert members == {f"{str(tree).lstrip('/')}/{n}" for n in contents}

            after = supervised_state(settings)
            assert {n: e["pid"] for n, e in after.items()} == fresh  # no other restart
            seen |= {f"{n} (restarted)": pid for n, pid in fresh.items()}
        assert serving.returncode == 0
        state = supervisor.read_state(settings)
        assert state is not None and not state["alive"]
        assert {e["state"] for e in state["processes"].values()} == {supervisor.STOPPED}
        for name, pid in seen.items():
            assert not pid_alive(pid) and not group_alive(pid), f"{name} (pid {pid}) is left"
    finally:
        engine.dispose()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_supervisor_killed_with_sigkill_leaves_no_process_behind(settings, alone):
    """The kernel stops the children of a supervisor that could not stop them itself."""
    only = dict.fromkeys(processes.KINDS, 0) | {"retry": 1, "sweeper": 1}
    env = alone | {"NEARLINE_SERVE__INSTANCES": json.dumps(only)}
    with supervisor.supervised(settings, env, timeout=60) as serving:
        children = {n: e["pid"] for n, e in supervised_state(settings).items()}
        assert set(children) == {"retry", "sweeper"}
        serving.kill()
        serving.wait()
        wait_until(
            lambda: not any(pid_alive(p) or group_alive(p) for p in children.values()),
            10,
            "the children to die with their supervisor",
        )
    assert not supervisor.supervisor_alive(settings)


def test_the_processes_of_a_feature_that_is_off_are_not_started_and_the_status_says_why(
    settings, alone
):
    """SciCat off (the default): neither of its processes runs; ``--status`` says why."""
    scicat = {"scicat", "scicat-rabbitmq"}
    only = {kind: 0 for kind in processes.KINDS if kind not in scicat} | {"retry": 1}
    env = alone | {"NEARLINE_SERVE__INSTANCES": json.dumps(only)}
    with supervisor.supervised(settings, env, timeout=60):
        assert set(supervised_state(settings)) == {"retry"}
        state = supervisor.read_state(settings)
        assert state is not None and set(state["off"]) == scicat
        shown = subprocess.run(
            [sys.executable, "-m", "admin", "serve", "--status"],
            env=os.environ | {"NEARLINE_HOME": str(settings.home)} | env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        assert "scicat-rabbitmq: not started, scicat.rabbitmq_url is empty" in shown
        assert any(line.startswith("scicat: not started, SciCat is off") for line in shown)
