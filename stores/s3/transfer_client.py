"""The boto3 client that moves file content: pooled, retrying, with bounded waits.

Unlike the stack's health-check client (one attempt, short timeouts), a transfer client
retries what S3 says is transient (standard mode: throttling, 5xx, dropped connections,
with jittered exponential backoff) and keeps one pooled connection per concurrent request.

Every client of a process comes from one boto3 session, made under a lock (a session is
not safe to share across threads; the clients it makes are): a session loads S3's service
model and endpoint rules, about 13 MiB, which a process with a store per stream (the
recall worker has eight) would otherwise hold once per store.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from nearline.settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class ClientTuning:
    """How long and how often a transfer client tries before reporting a failure."""

    max_attempts: int = 4  # in all, the first try included
    connect_timeout: float = 5.0  # seconds
    read_timeout: float = 60.0  # seconds without a byte from the server


def transfer_client(settings: S3Settings, pool_size: int, tuning: ClientTuning) -> S3Client:
    """A new client for ``settings``' endpoint with ``pool_size`` pooled connections."""
    config = Config(
        max_pool_connections=pool_size,
        retries={"mode": "standard", "total_max_attempts": tuning.max_attempts},
        connect_timeout=tuning.connect_timeout,
        read_timeout=tuning.read_timeout,
        tcp_keepalive=True,
        # Checksums only where asked for: uploads name theirs (sha256 of a single put,
        # CRC32 of each part), and downloads verify the catalog's sha256 themselves, so
        # botocore's default extra pass over the bytes would only cost CPU.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    with _SESSION_LOCK:
        return _session().client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key.get_secret_value(),
            aws_secret_access_key=settings.secret_key.get_secret_value(),
            verify=settings.verify_tls,
            config=config,
        )


_SESSION_LOCK = threading.Lock()
_SESSIONS: list[boto3.session.Session] = []


def _session() -> boto3.session.Session:
    """This process's session, made on first use; call under ``_SESSION_LOCK``."""
    if not _SESSIONS:
        _SESSIONS.append(boto3.session.Session())
    return _SESSIONS[0]


def _forget_in_child() -> None:
    # A child forked while another thread held the lock would wait for it forever.
    global _SESSION_LOCK
    _SESSION_LOCK = threading.Lock()
    _SESSIONS.clear()


os.register_at_fork(after_in_child=_forget_in_child)
