"""The stack's folders are closed to other local users: a user of the host cannot read
another's cached bytes from the S3 server's folder, nor the stack's credentials, nor the
log; the services create what they write with umask 077. Checked as a real unprivileged
user, with the kernel's answer (``runuser -u nl-bob -- cat``)."""

from __future__ import annotations

import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import stack
from nearline.daemons import StackError, service_account
from nearline.settings import Settings, stack_file_path
from stack import kafka, postgres, s3, xrootd
from stack.tape import drive
from tests.integration.accounts import ensure_account

pytestmark = pytest.mark.security

SECRET = b"alice's unpublished results\n"


def as_user(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", user, "--", *command], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def bob() -> str:
    return ensure_account("nl-bob", "nl-ocean")[0]


@pytest.fixture
def cached_file(settings: Settings) -> Iterator[Path]:
    """The file in which the S3 server keeps a freshly uploaded object."""
    key = f"security/{uuid.uuid4().hex}"
    client = s3.client(settings)
    client.put_object(Bucket=settings.s3.bucket, Key=key, Body=SECRET)
    path = settings.home / "s3" / "data" / settings.s3.bucket / key
    assert path.read_bytes() == SECRET  # root (the stack) reads it
    yield path
    client.delete_object(Bucket=settings.s3.bucket, Key=key)


def test_another_user_cannot_read_cached_bytes(settings, cached_file, bob):
    assert as_user(bob, "cat", "/etc/hostname").returncode == 0  # runuser works
    refused = as_user(bob, "cat", str(cached_file))
    assert refused.returncode != 0 and "Permission denied" in refused.stderr
    assert SECRET.decode() not in refused.stdout
    for what in (settings.home, settings.home / "s3" / "data"):
        listing = as_user(bob, "ls", str(what))
        assert listing.returncode != 0 and "Permission denied" in listing.stderr, what


def test_another_user_cannot_read_the_stack_credentials_or_the_log(settings, bob):
    for path in (stack_file_path(settings.home), settings.home / "run" / "kafka.properties"):
        refused = as_user(bob, "cat", str(path))
        assert refused.returncode != 0 and "Permission denied" in refused.stderr, path
    segment = next((settings.home / "kafka").glob("nearline.requests-*/*.log"))
    assert as_user(bob, "cat", str(segment)).returncode != 0


def test_the_service_account_reaches_its_own_folders_only(settings, cached_file):
    account = service_account().pw_name
    assert as_user(account, "ls", str(settings.home / "postgres")).returncode == 0
    for path in (cached_file, stack_file_path(settings.home), settings.home / "run" / "s3.pid"):
        refused = as_user(account, "cat", str(path))
        assert refused.returncode != 0 and "Permission denied" in refused.stderr, path


def test_the_home_and_every_service_folder_are_their_owners_only(settings):
    home = settings.home.stat()
    # 0700, or 0710 with the service account's group: it may pass through, nobody else.
    assert stat.S_IMODE(home.st_mode) & 0o067 == 0, oct(home.st_mode)
    if stat.S_IMODE(home.st_mode) & 0o010:
        assert home.st_gid == service_account().pw_gid
    for name in ("kafka", "s3", "s3/data", "s3/meta", "run", "postgres", "xrootd", "stack.toml"):
        mode = stat.S_IMODE((settings.home / name).stat().st_mode)
        assert mode & 0o077 == 0, f"{name}: {oct(mode)}"
    services = (
        settings.home / "postgres" / "data",
        settings.home / "postgres" / "socket",
        settings.home / "xrootd" / "buffer",
        settings.home / "xrootd" / "tape",
    )
    for folder in services:
        assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, folder


def test_the_services_create_files_with_umask_077(settings):
    daemons = [
        kafka.daemon(settings),
        s3.daemon(settings),
        postgres.daemon(settings),
        xrootd.daemon(settings),
        drive(settings),
    ]
    for daemon in daemons:
        pid = daemon.pid()
        assert pid, daemon.name
        status = Path(f"/proc/{pid}/status").read_text()
        assert "Umask:\t0077" in status, daemon.name


def test_a_home_the_service_account_cannot_reach_is_refused_with_what_to_do():
    closed = Path(tempfile.mkdtemp(prefix="nearline-closed-", dir="/tmp"))
    try:
        closed.chmod(0o700)
        home = closed / "home"
        with pytest.raises(StackError) as refused:
            stack.up(Settings(home=home), log=lambda _line: None)
        message = str(refused.value)
        assert str(closed) in message and "NEARLINE_HOME" in message and "setfacl" in message
        assert "\n" not in message
        assert not (home / "kafka").exists()  # refused before anything started
    finally:
        subprocess.run(["rm", "-rf", str(closed)], check=True)
