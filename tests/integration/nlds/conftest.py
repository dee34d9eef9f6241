"""The real ``nlds`` command (PyPI ``nlds-client``) against the API and processes over the
stack. Each user runs it as themselves (``setpriv``), with ``HOME`` a folder of their own
that holds ``~/.nlds-config`` and the token file, written by ``nearline login --nlds``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nearline.settings import Settings
from tests.integration.accounts import chown
from tests.integration.api import conftest as api_suite
from tests.integration.api.conftest import Account, running_api
from tests.integration.nlds.shell import Nlds

# The API suite's fixtures: its accounts (passwords in a users file) and the API's env.
accounts = api_suite.accounts
api_users_file = api_suite.api_users_file
api_env = api_suite.api_env
api_log = api_suite.api_log


@pytest.fixture(scope="session")
def nlds_api_url(
    settings: Settings, api_env: dict[str, str], processors: dict[str, str], api_log: Path
) -> Iterator[str]:
    """An API of its own, one port above the API tests' one, so both suites can run in
    one session."""
    with running_api(api_env, settings.ports.api + 1, api_log) as url:
        yield url


@pytest.fixture
def user_dir() -> Iterator[Path]:
    """A folder every test account can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="nearline-nlds-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _shell(name: str, url: str, accounts: dict[str, Account], base: Path) -> Nlds:
    account = accounts[name]
    home = base / f"home-{name}"
    home.mkdir(mode=0o700)
    chown(str(home), account.user, account.group)
    shell = Nlds(url, account, home)
    shell.login()
    return shell


@pytest.fixture
def alice(nlds_api_url: str, accounts: dict[str, Account], user_dir: Path) -> Nlds:
    return _shell("alice", nlds_api_url, accounts, user_dir)


@pytest.fixture
def carol(nlds_api_url: str, accounts: dict[str, Account], user_dir: Path) -> Nlds:
    return _shell("carol", nlds_api_url, accounts, user_dir)


def owned_files(root: Path, account: Account, files: dict[str, bytes]) -> list[Path]:
    """Files (and their folders) under ``root``, owned by ``account``; their paths."""
    paths = []
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    for dirpath, dirnames, filenames in os.walk(root):
        chown(dirpath, account.user, account.group)
        for name in dirnames + filenames:
            chown(os.path.join(dirpath, name), account.user, account.group)
    return paths
