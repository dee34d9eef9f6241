"""``$NEARLINE_HOME/stack.toml``: the local stack's endpoints and generated credentials,
which every component reads through the settings.

Written at the first ``stack-up`` and completed by later ones (a stack made by an older
nearline gains the Kafka principals' passwords); values once written are kept, so that
the services' data and the file agree. The file is 0600 and replaced whole, never
rewritten in place.
"""

from __future__ import annotations

import secrets
import tomllib
from typing import Any

from nearline import kafka_access
from nearline.settings import Settings, stack_file_path
from stack import kafka_sasl, postgres, s3
from stack.folders import private_file

HEADER = "# Written by `make stack-up`: the local stack's endpoints and generated credentials.\n"

Table = dict[str, Any]


def load(settings: Settings) -> Table:
    """The stack file's tables, with every missing credential generated and saved."""
    path = stack_file_path(settings.home)
    data: Table = {}
    if path.exists():
        with path.open("rb") as f:
            data = tomllib.load(f)
    before = repr(data)
    data.setdefault("ports", settings.ports.model_dump())
    if "s3" not in data:
        access, secret = s3.new_credentials()
        data["s3"] = {"access_key": access, "secret_key": secret}
    local = data.setdefault("local", {})
    if "postgres_password" not in local:
        local["postgres_password"] = postgres.new_password()
        local["postgres_url"] = postgres.url(settings, local["postgres_password"])
    passwords = data.setdefault("kafka", {}).setdefault("passwords", {})
    for principal in kafka_access.principals():
        passwords.setdefault(principal, secrets.token_urlsafe(24))
    if repr(data) != before:
        save(settings, data)
    return data


def use_sasl(settings: Settings, data: Table, enabled: bool) -> None:
    """Make the clients' login match the broker: with SASL (components connect as
    ``admin`` unless they name their own principal), or, while a broker started without
    it still runs, without."""
    kafka = data["kafka"]
    wanted = {
        "security_protocol": kafka_sasl.PROTOCOL,
        "sasl_mechanism": kafka_sasl.MECHANISM,
        "sasl_username": kafka_access.ADMIN,
    }
    if not enabled:
        if wanted.keys() & kafka.keys():
            for key in wanted:
                kafka.pop(key, None)
            save(settings, data)
    elif any(kafka.get(key) != value for key, value in wanted.items()):
        kafka.update(wanted)
        save(settings, data)


def save(settings: Settings, data: Table) -> None:
    private_file(stack_file_path(settings.home), HEADER + dumps(data))


def dumps(data: Table) -> str:
    """TOML of tables holding strings, numbers, booleans and tables of those (all the
    stack file has)."""
    lines: list[str] = []

    def table(name: str, values: Table) -> None:
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        if scalars or not values:
            lines.extend(["", f"[{name}]"])
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
        for key, value in values.items():
            if isinstance(value, dict):
                table(f"{name}.{_key(key)}", value)

    for name, values in data.items():
        table(_key(name), values)
    return "\n".join(lines).lstrip("\n") + "\n"


def _key(key: str) -> str:
    bare = key.isascii() and key.replace("-", "").replace("_", "").isalnum()
    return key if bare else _value(key)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
