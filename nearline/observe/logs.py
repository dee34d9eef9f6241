"""Logging for every nearline process: ``log.format = text|json``, the transaction id on
every line logged while a transaction is being handled, and no secret on any line.

The transaction id lives in a context variable: the processors set it for each event
they handle (``processors.app.decoded``) and the API for each request it records, and
asyncio tasks and ``asyncio.to_thread`` carry it along.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from nearline.settings import Settings

transaction_id: ContextVar[str | None] = ContextVar("nearline_transaction_id", default=None)
request_note: ContextVar[dict[str, Any] | None] = ContextVar("nearline_request_note", default=None)
"""A mutable note of the HTTP request being served: a route that records a transaction
writes its id here, so that the access log line (written outside the route's thread)
carries it too."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(txn)s%(message)s"

# Credentials that may turn up in a message built from a URL, a header or a form.
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:password|passwd|secret|secret_key|access_key|token|access_token|"
        r"refresh_token|client_secret|sasl\.password)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]+"
    ),
    re.compile(r"(?i)(://[^/:@\s]+:)[^@/\s]+(@)"),  # user:password@host
)
REDACTED = "***"


@contextmanager
def transaction(tid: str | None) -> Iterator[None]:
    """Lines logged inside carry ``tid`` as their transaction id."""
    token = transaction_id.set(tid)
    try:
        yield
    finally:
        transaction_id.reset(token)


def note_transaction(tid: str) -> None:
    """The current request or handler concerns transaction ``tid``."""
    transaction_id.set(tid)
    note = request_note.get()
    if note is not None:
        note["transaction_id"] = tid


def secrets_of(settings: Settings) -> list[str]:
    """Every credential the settings hold, to be masked wherever it appears."""
    # The S3 access key is an identifier, not a secret (often a plain word such as the
    # service's name): masking it would garble every line that names the service.
    values = [
        settings.s3.secret_key.get_secret_value(),
        settings.auth.local.token_secret.get_secret_value(),
        settings.auth.local.client_secret.get_secret_value(),
    ]
    if settings.kafka.sasl_password:
        values.append(settings.kafka.sasl_password.get_secret_value())
    for url in (settings.catalog.url, settings.postgres_url):
        match = re.search(r"://[^/:@]+:([^@/]+)@", url or "")
        if match:
            values.append(match.group(1))
    # Very short values would mask ordinary words.
    return sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + REDACTED + (m.group(2) if m.lastindex == 2 else ""), text
        )
    return text


class ContextFilter(logging.Filter):
    """Adds the transaction id to each record and masks secrets in its message."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = secrets or []

    def filter(self, record: logging.LogRecord) -> bool:
        tid = getattr(record, "transaction_id", None) or transaction_id.get()
        record.transaction_id = tid
        record.txn = f"[{tid}] " if tid else ""
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, transaction_id, process."""

    def __init__(self, process: str, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.process = process
        self.secrets = secrets or []

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "process": self.process,
            "message": record.getMessage(),
        }
        tid = getattr(record, "transaction_id", None)
        if tid:
            line["transaction_id"] = tid
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info), self.secrets)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__(TEXT_FORMAT)
        self.secrets = secrets or []

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei), self.secrets)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "txn"):
            record.txn = ""
        return super().format(record)


def handler(settings: Settings, process: str, stream: Any = None) -> logging.Handler:
    """A stream handler formatting and filtering as the settings say."""
    secrets = secrets_of(settings)
    out = logging.StreamHandler(stream or sys.stderr)
    out.addFilter(ContextFilter(secrets))
    if settings.log.format == "json":
        out.setFormatter(JsonFormatter(process, secrets))
    else:
        out.setFormatter(TextFormatter(secrets))
    return out


def setup(settings: Settings, process: str) -> None:
    """Configure the root logger of a process (the API and the projections; faust workers
    get the same handler through ``dict_config``)."""
    root = logging.getLogger()
    root.handlers.clear()
    root.addHandler(handler(settings, process))
    root.setLevel(settings.log.level.upper())


def dict_config(settings: Settings, process: str) -> dict[str, Any]:
    """The same configuration as a ``logging.config.dictConfig`` dict, for faust workers,
    which configure logging themselves when they start."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {
            "nearline": {
                "()": handler,
                "settings": settings,
                "process": process,
            }
        },
        "root": {"handlers": ["nearline"], "level": settings.log.level.upper()},
    }
