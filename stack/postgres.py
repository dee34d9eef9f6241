"""A PostgreSQL cluster owned by the local stack: own data folder, own port.

Debian's server binaries refuse to run as root, so the cluster runs as the stack's
unprivileged service account.
"""

from __future__ import annotations

import glob
import secrets
import signal
import subprocess
from pathlib import Path
from typing import Any

from nearline.daemons import (
    Daemon,
    StackError,
    give_to_service_account,
    port_open,
    running_as_root,
    service_account,
    wait_until,
)
from nearline.settings import Settings

DATABASE = "nearline"
ROLE = "nearline"


def bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise StackError("PostgreSQL server binaries not found: apt-get install postgresql")
    return Path(found[-1]).parent


def as_service_account(command: list[str]) -> list[str]:
    if running_as_root():
        return ["runuser", "-u", service_account().pw_name, "--", *command]
    return command


def new_password() -> str:
    return secrets.token_urlsafe(18)


def url(settings: Settings, password: str) -> str:
    return f"postgresql+psycopg://{ROLE}:{password}@127.0.0.1:{settings.ports.postgres}/{DATABASE}"


def daemon(settings: Settings) -> Daemon:
    root = settings.home / "postgres"
    return Daemon(
        name="postgres",
        command=[
            str(bindir() / "postgres"),
            "-D",
            str(root / "data"),
            "-p",
            str(settings.ports.postgres),
            "-k",
            str(root / "socket"),
            "-c",
            "listen_addresses=127.0.0.1",
            # A test and benchmark cluster: durability of the last commit is not needed.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=256MB",
            # Local SSD or page cache: an index probe costs about a sequential read.
            "-c",
            "random_page_cost=1.1",
        ],
        run_dir=settings.home / "run",
        as_service_account=True,
        # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client.
        stop_signal=signal.SIGINT,
    )


def start(settings: Settings, password: str) -> None:
    root = settings.home / "postgres"
    data = root / "data"
    (root / "socket").mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (root, root / "socket"):  # the service account's own; nobody else may enter
        folder.chmod(0o700)
    fresh = not (data / "PG_VERSION").exists()
    if fresh:
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        pwfile = root / "initdb.pw"
        pwfile.write_text(password)
        pwfile.chmod(0o600)
        give_to_service_account(root)
        subprocess.run(
            as_service_account(
                [
                    str(bindir() / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    ROLE,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
    server = daemon(settings)
    server.start()
    wait_until(lambda: healthy(settings, password), 60, "PostgreSQL", server.log_file)
    if fresh:
        create_database(settings, password)


def connect(settings: Settings, password: str, database: str = "postgres") -> Any:
    import psycopg

    return psycopg.connect(
        host="127.0.0.1",
        port=settings.ports.postgres,
        user=ROLE,
        password=password,
        dbname=database,
        connect_timeout=2,
        autocommit=True,
    )


def healthy(settings: Settings, password: str) -> bool:
    if not port_open(settings.ports.postgres):
        return False
    try:
        with connect(settings, password) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return False
    return True


def create_database(settings: Settings, password: str) -> None:
    with connect(settings, password) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if exists.fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def stop(settings: Settings) -> None:
    daemon(settings).stop()
