"""nearline's processes for the operations tests: each worker with its own metrics and
health port and JSON logs, and the API as a real process with its own users file."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from admin import processes
from api.auth.users import add_user
from nearline.settings import Settings

REPO = Path(__file__).resolve().parents[3]
WORKERS = [name for name in processes.PROCESSES if name != "api"]


@dataclass(frozen=True)
class Workers:
    settings: Settings
    env: dict[str, str]
    ports: dict[str, int]

    def env_of(self, name: str) -> dict[str, str]:
        return self.env | {"NEARLINE_METRICS__PORT": str(self.ports[name])}

    def start(self, name: str) -> None:
        processes.daemon(self.settings, name, self.env_of(name)).start()
        wait_until(lambda: ready(self.ports[name]), 90, f"{name} ready")

    def stop(self, name: str) -> None:
        processes.daemon(self.settings, name).stop(timeout=60)

    def metrics(self, name: str) -> str:
        return httpx.get(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=10).text

    def log(self, name: str) -> Path:
        return processes.daemon(self.settings, name).log_file


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="session")
def workers(settings: Settings, catalog_url: str) -> Iterator[Workers]:
    """Every worker, started fresh, each listening on its own metrics port."""
    from projections.db import make_engine
    from projections.migrate import upgrade

    processes.stop(settings)
    engine = make_engine(catalog_url)
    upgrade(engine)
    engine.dispose()
    base = settings.ports.api + 100
    running = Workers(
        settings,
        {"NEARLINE_CATALOG__URL": catalog_url, "NEARLINE_LOG__FORMAT": "json"},
        {name: base + i for i, name in enumerate(WORKERS)},
    )
    for name in WORKERS:
        processes.daemon(settings, name, running.env_of(name)).start()
    for name in WORKERS:
        wait_until(lambda n=name: ready(running.ports[n]), 120, f"{name} ready")
    yield running
    processes.stop(settings)


@dataclass(frozen=True)
class Api:
    url: str
    user: str
    group: str
    password: str
    log: Path

    def token(self) -> str:
        reply = httpx.post(
            f"{self.url}/api/v1/token",
            data={"grant_type": "password", "username": self.user, "password": self.password},
            timeout=30,
        )
        reply.raise_for_status()
        return str(reply.json()["access_token"])


@pytest.fixture(scope="session")
def api(settings, catalog_url, workers, users, tmp_path_factory) -> Iterator[Api]:
    """``python -m api`` with JSON logs, a users file with alice, and its log file."""
    user, group = users["alice"]
    port = settings.ports.api + 50
    password = "pw-" + secrets.token_urlsafe(16)
    folder = tmp_path_factory.mktemp("ops-api")
    users_file = folder / "users.toml"
    add_user(users_file, user, password, [])
    env = os.environ | {
        "NEARLINE_HOME": str(settings.home),
        "NEARLINE_CATALOG__URL": catalog_url,
        "NEARLINE_AUTH__LOCAL__DIRECTORY": "host",
        "NEARLINE_AUTH__LOCAL__USERS_FILE": str(users_file),
        "NEARLINE_LOG__FORMAT": "json",
        "NEARLINE_METRICS__STATUS_REFRESH_S": "3",
        # A port of its own: the API tests' server may still hold the usual one.
        "NEARLINE_PORTS__API": str(port),
        "NEARLINE_KAFKA__SASL_USERNAME": "api",  # its own principal, not the tests' admin
    }
    log = folder / "api.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: _answers(url) or process.poll() is not None, 60, "the API")
        assert process.poll() is None, log.read_text()[-2000:]
        yield Api(url, user, group, password, log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
