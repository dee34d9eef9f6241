"""The local stack: Kafka, an S3 server, PostgreSQL and XRootD on loopback.

All state lives under ``$NEARLINE_HOME``; downloads are cached under ``$NEARLINE_CACHE``.
``up`` is idempotent, ``down`` leaves no process behind, ``status`` health-checks each
service. ``up`` writes ``$NEARLINE_HOME/stack.toml``, which every component reads, so
that code using the settings finds the local services and their generated credentials.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from nearline import bus
from nearline.kafka_access import ADMIN, as_principal
from nearline.settings import Settings, read_stack_file
from stack import folders, kafka, postgres, readiness, s3, stack_file, xrootd


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    healthy: bool
    endpoint: str


def _reclaim_run_folder(settings: Settings) -> None:
    """The run folder (pid files, logs, the broker's properties) is root's alone; older
    stacks gave it to the service account, which could then rewrite a pid file."""
    run = settings.home / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    for path in [run, *run.iterdir()]:
        os.chown(path, os.geteuid(), os.getegid(), follow_symlinks=False)
    run.chmod(0o700)


def up(settings: Settings | None = None, log: Callable[[str], None] = print) -> Settings:
    """Start every service that is not running; harmless when all run already."""
    settings = settings or Settings()
    with folders.private_umask():
        folders.close_home(settings.home)
        folders.check_service_account_reaches(settings.home)
        _reclaim_run_folder(settings)
        data = stack_file.load(settings)
        log(f"nearline stack in {settings.home}")
        passwords = {k: str(v) for k, v in data["kafka"]["passwords"].items()}
        secured = kafka.start(settings, passwords)
        stack_file.use_sasl(settings, data, secured)
        settings = Settings()  # re-read, now with the stack file's credentials
        if secured:
            log(f"  kafka      {settings.kafka.bootstrap_servers} (SASL/SCRAM, ACLs)")
            # Processes may not create topics: the stack's admin does, before any starts.
            bus.ensure_topics(as_principal(settings, ADMIN))
            # Up is ready: an idempotent producer writes, a consumer group joins.
            readiness.wait_until_ready(as_principal(settings, ADMIN))
        else:
            log(
                f"  kafka      {settings.kafka.bootstrap_servers} runs WITHOUT SASL (started by "
                "an older nearline): `make stack-down && make stack-up` secures it, data kept"
            )
        s3.start(settings)
        log(f"  s3         {settings.s3.endpoint_url} (bucket {settings.s3.bucket})")
        postgres.start(settings, data["local"]["postgres_password"])
        log(f"  postgres   127.0.0.1:{settings.ports.postgres}")
        xrootd.start(settings)
        log(f"  xrootd     {settings.tape.url}")
    return settings


def down(settings: Settings | None = None, log: Callable[[str], None] = print) -> None:
    """Stop every service of the stack; nothing of it keeps running."""
    settings = settings or Settings()
    for name, module in (("xrootd", xrootd), ("postgres", postgres), ("s3", s3), ("kafka", kafka)):
        module.stop(settings)
        log(f"  {name:10} stopped")


def status(settings: Settings | None = None) -> list[ServiceStatus]:
    settings = settings or Settings()
    password = read_stack_file(settings.home).get("postgres_password", "")
    checks: list[tuple[str, Callable[[], int | None], Callable[[], bool], str]] = [
        (
            "kafka",
            lambda: kafka.daemon(settings).pid(),
            lambda: kafka.healthy(settings),
            settings.kafka.bootstrap_servers,
        ),
        (
            "s3",
            lambda: s3.daemon(settings).pid(),
            lambda: s3.healthy(settings),
            settings.s3.endpoint_url,
        ),
        (
            "postgres",
            lambda: postgres.daemon(settings).pid(),
            lambda: postgres.healthy(settings, password),
            f"127.0.0.1:{settings.ports.postgres}",
        ),
        (
            "xrootd",
            lambda: xrootd.daemon(settings).pid(),
            lambda: xrootd.healthy(settings),
            settings.tape.url,
        ),
    ]
    result = []
    for name, pid, healthy, endpoint in checks:
        process = pid()
        result.append(ServiceStatus(name, process, bool(process) and healthy(), endpoint))
    return result
