"""The real pacifica-cartd (PyPI), in a virtualenv of its own (its pins clash with
nearline's): its REST server and one Celery worker, queued through SQLite files (kombu's
SQLAlchemy transport), pointed at an archive interface (docs/pacifica.md)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

VENV_ENV = "NEARLINE_CARTD_VENV"  # where pacifica-cartd is installed (docs/pacifica.md)

CPCONFIG = """[global]
log.screen: True
[/]
request.dispatch: cherrypy.dispatch.MethodDispatcher()
"""


def cartd_venv(home: Path) -> Path:
    venv = Path(os.environ.get(VENV_ENV, home / "cartd-venv"))
    if not (venv / "bin" / "pacifica-cartd").exists():
        raise RuntimeError(
            f"pacifica-cartd is not installed in {venv}: python3 -m venv {venv} && "
            f"{venv}/bin/pip install pacifica-cartd sqlalchemy (docs/pacifica.md)"
        )
    return venv


@contextmanager
def running_cartd(venv: Path, archive_url: str, folder: Path, port: int) -> Iterator[str]:
    """cartd's server and worker over ``folder``; its URL once it answers."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is taken")
    (folder / "carts").mkdir(parents=True, exist_ok=True)
    (folder / "cpconfig.ini").write_text(CPCONFIG)
    env = {
        "PATH": f"{venv}/bin:/usr/bin:/bin",
        "HOME": str(folder),
        "ARCHIVE_INTERFACE_URL": archive_url,  # ends with "/": cartd appends the id
        "VOLUME_PATH": f"{folder}/carts/",
        "PEEWEE_URL": f"sqlite:///{folder}/cart.sqlite3",
        "BROKER_URL": f"sqla+sqlite:///{folder}/broker.sqlite3",
        "BACKEND_URL": f"db+sqlite:///{folder}/results.sqlite3",
        "CARTD_CONFIG": str(folder / "config.ini"),  # absent: the environment says all
        "CARTD_CPCONFIG": str(folder / "cpconfig.ini"),
        "LRU_BUFFER_TIME": "0",
    }
    subprocess.run([f"{venv}/bin/pacifica-cartd-cmd", "dbsync"], env=env, check=True)
    logs = [(folder / f"{name}.log").open("wb") for name in ("server", "worker")]
    server = subprocess.Popen(
        [f"{venv}/bin/pacifica-cartd", "--address", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=folder,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [
            f"{venv}/bin/celery",
            "-A",
            "pacifica.cartd.tasks",
            "worker",
            "--pool=threads",
            "--concurrency=4",
            "--loglevel=INFO",
        ],
        env=env,
        cwd=folder,
        stdout=logs[1],
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cartd did not start: {(folder / 'server.log').read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        for process in (worker, server):
            process.terminate()
        for process in (worker, server):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
