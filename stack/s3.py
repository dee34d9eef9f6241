"""A real S3 server for the local stack: versitygw with its posix back end."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

from nearline.daemons import Daemon, StackError, port_open, wait_until
from nearline.settings import Settings
from stack.paths import cache_root

VERSITYGW_VERSION = "v1.7.0"


def binary() -> Path:
    return cache_root() / "bin" / f"versitygw-{VERSITYGW_VERSION}"


def install() -> None:
    """Build the pinned versitygw with ``go install``, once."""
    target = binary()
    if target.exists():
        return
    if not shutil.which("go"):
        raise StackError("Go is needed once to build the S3 server (versitygw); install it.")
    gobin = target.parent / "build"
    gobin.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["go", "install", f"github.com/versity/versitygw/cmd/versitygw@{VERSITYGW_VERSION}"],
        check=True,
        env={**os.environ, "GOBIN": str(gobin), "GOFLAGS": "-mod=mod"},
    )
    (gobin / "versitygw").rename(target)


def new_credentials() -> tuple[str, str]:
    return "nearline", secrets.token_urlsafe(24)


def supports_user_xattrs(folder: Path) -> bool:
    probe = folder / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.nearline", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def daemon(settings: Settings) -> Daemon:
    data = settings.home / "s3" / "data"
    # Keep-alive: without it the server closes the connection after every response.
    command = [str(binary()), "--port", f"127.0.0.1:{settings.ports.s3}", "--keep-alive", "posix"]
    if not supports_user_xattrs(data):
        command += ["--sidecar", str(settings.home / "s3" / "meta")]
    command.append(str(data))
    return Daemon(
        name="s3",
        command=command,
        run_dir=settings.home / "run",
        env={
            "ROOT_ACCESS_KEY": settings.s3.access_key.get_secret_value(),
            "ROOT_SECRET_KEY": settings.s3.secret_key.get_secret_value(),
        },
    )


def start(settings: Settings) -> None:
    install()
    # Every user's cached bytes: root's only (the server runs with umask 077 too).
    top = settings.home / "s3"
    for folder in (top / "data", top / "meta"):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for folder in (top, top / "data", top / "meta"):
        folder.chmod(0o700)
    server = daemon(settings)
    server.start()
    wait_until(lambda: healthy(settings), 30, "S3 server", server.log_file)
    ensure_bucket(settings)


def client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.s3.endpoint_url,
        region_name=settings.s3.region,
        aws_access_key_id=settings.s3.access_key.get_secret_value(),
        aws_secret_access_key=settings.s3.secret_key.get_secret_value(),
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )


def healthy(settings: Settings) -> bool:
    if not port_open(settings.ports.s3):
        return False
    try:
        client(settings).list_buckets()
    except Exception:
        return False
    return True


def ensure_bucket(settings: Settings) -> None:
    s3 = client(settings)
    names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if settings.s3.bucket not in names:
        s3.create_bucket(Bucket=settings.s3.bucket)


def stop(settings: Settings) -> None:
    daemon(settings).stop()
