"""The local stack: Kafka, an S3 server, PostgreSQL and XRootD on loopback.

All state lives under ``$NEARLINE_HOME``; downloads are cached under ``$NEARLINE_CACHE``.
``up`` is idempotent, ``down`` leaves no process behind, ``status`` health-checks each
service. ``up`` writes ``$NEARLINE_HOME/stack.toml``, which every component reads, so
that code using the settings finds the local services and their generated credentials.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass

from nearline.settings import Settings, stack_file_path
from nearline.stack import kafka, postgres, s3, xrootd


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    healthy: bool
    endpoint: str


def _load_or_create_stack_file(settings: Settings) -> dict[str, str]:
    path = stack_file_path(settings.home)
    if path.exists():
        with path.open("rb") as f:
            data = tomllib.load(f)
        return {
            "s3_access_key": data["s3"]["access_key"],
            "s3_secret_key": data["s3"]["secret_key"],
            "postgres_password": data["local"]["postgres_password"],
        }
    access, secret = s3.new_credentials()
    values = {
        "s3_access_key": access,
        "s3_secret_key": secret,
        "postgres_password": postgres.new_password(),
    }
    settings.home.mkdir(parents=True, exist_ok=True)
    ports = settings.ports
    path.write_text(
        "# Written by `make stack-up`: the local stack's endpoints and generated credentials.\n"
        "[ports]\n"
        + "".join(f"{name} = {port}\n" for name, port in ports.model_dump().items())
        + "\n[s3]\n"
        f'access_key = "{access}"\nsecret_key = "{secret}"\n'
        "\n[local]\n"
        f'postgres_password = "{values["postgres_password"]}"\n'
        f'postgres_url = "{postgres.url(settings, values["postgres_password"])}"\n'
    )
    path.chmod(0o600)
    return values


def up(settings: Settings | None = None, log: Callable[[str], None] = print) -> Settings:
    """Start every service that is not running; harmless when all run already."""
    settings = settings or Settings()
    values = _load_or_create_stack_file(settings)
    settings = Settings()  # re-read, now with the stack file's credentials
    log(f"nearline stack in {settings.home}")
    kafka.start(settings)
    log(f"  kafka      {settings.kafka.bootstrap_servers}")
    s3.start(settings)
    log(f"  s3         {settings.s3.endpoint_url} (bucket {settings.s3.bucket})")
    postgres.start(settings, values["postgres_password"])
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
    password = (
        _load_or_create_stack_file(settings)["postgres_password"]
        if stack_file_path(settings.home).exists()
        else ""
    )
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
