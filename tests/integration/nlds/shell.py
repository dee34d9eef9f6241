"""One user's shell for the real ``nlds`` command: run as that user, with their own HOME."""

from __future__ import annotations

import atexit
import functools
import grp
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.api.conftest import Account

BIN = Path(sys.executable).parent
FINAL = {"COMPLETE", "FAILED", "COMPLETE_WITH_ERRORS", "COMPLETE_WITH_WARNINGS"}


def _others_may_run(path: Path) -> bool:
    """Whether an account other than root could run ``path`` (o+x on every folder above
    it and on it, following links, as the interpreter of a venv is one)."""
    try:
        real = path.resolve(strict=True)
        return all(os.stat(folder).st_mode & 0o001 for folder in [real, *real.parents])
    except OSError:
        return False


@functools.cache
def client_bin() -> Path:
    """A ``bin`` folder holding ``nlds`` and ``nearline`` that the test accounts can run:
    the project's own environment, unless it sits in a private folder (a checkout under
    root's home); then a copy of the clients in an environment of their own under
    /var/tmp, made once per test session and removed at its end."""
    if all(_others_may_run(BIN / name) for name in ("nlds", "nearline", "python")):
        return BIN
    python = "/usr/bin/python3" if _others_may_run(Path("/usr/bin/python3")) else sys.executable
    place = Path(tempfile.mkdtemp(prefix="nearline-test-clients-", dir="/var/tmp"))
    place.chmod(0o755)
    atexit.register(shutil.rmtree, place, True)
    checkout = Path(__file__).resolve().parents[3]
    subprocess.run([python, "-m", "venv", str(place / "venv")], check=True)
    pip = [str(place / "venv" / "bin" / "python"), "-m", "pip", "install", "-q"]
    lock = ["-c", str(checkout / "requirements.lock")]
    subprocess.run([*pip, *lock, "nlds-client==1.0.17", str(checkout)], check=True)
    return place / "venv" / "bin"


@dataclass
class Nlds:
    url: str
    account: Account
    home: Path

    def run(
        self, *args: str, input: str | None = None, program: str = "nlds"
    ) -> subprocess.CompletedProcess[str]:
        """``nlds ARGS`` as the user; a new session, so that no terminal is there to ask
        for a password on (the client then reads it from standard input)."""
        uid, gid = pwd.getpwnam(self.account.user).pw_uid, grp.getgrnam(self.account.group).gr_gid
        command = [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--init-groups",
            "--",
            str(client_bin() / program),
            *args,
        ]
        env = {
            "HOME": str(self.home),
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "NEARLINE_URL": self.url,
            "COLUMNS": "200",
        }
        return subprocess.run(
            command,
            env=env,
            cwd=self.home,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
            start_new_session=True,
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        """Standard output of a command that must succeed."""
        done = self.run(*args, input=input)
        assert done.returncode == 0, f"nlds {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def json(self, *args: str) -> dict[str, Any]:
        """The ``-j`` output of a command that must succeed."""
        output = self.ok(*args, "-j")
        reply = json.loads(output)
        assert isinstance(reply, dict)
        return reply

    def fails(self, *args: str) -> str:
        """What a command that must fail says (click's usage errors exit 2)."""
        done = self.run(*args)
        assert done.returncode != 0, f"nlds {' '.join(args)} succeeded: {done.stdout}"
        return done.stdout + done.stderr

    def login(self) -> None:
        """``nearline login --nlds``: the token file, and ~/.nlds-config when missing."""
        done = self.run(
            "login",
            "--user",
            self.account.user,
            "--password-stdin",
            "--nlds",
            input=self.account.password + "\n",
            program="nearline",
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def config(self) -> dict[str, Any]:
        data = json.loads((self.home / ".nlds-config").read_text())
        assert isinstance(data, dict)
        return data

    def token(self) -> dict[str, Any]:
        data = json.loads((self.home / ".nlds-token").read_text())
        assert isinstance(data, dict)
        return data

    def stat(self, transaction_id: str) -> dict[str, str]:
        """``nlds stat -n ID`` as a user reads it: its ``name : value`` lines."""
        return fields(self.ok("stat", "-n", transaction_id))

    def wait(self, transaction_id: str, timeout: float = 180) -> dict[str, str]:
        """Follow a transaction with ``nlds stat`` until its state is final; every
        state shown on the way is in ``seen``."""
        deadline = time.monotonic() + timeout
        shown = self.stat(transaction_id)
        seen = [shown["state"]]
        while shown["state"] not in FINAL:
            assert time.monotonic() < deadline, f"{transaction_id} is still {shown['state']}"
            time.sleep(0.3)
            shown = self.stat(transaction_id)
            seen.append(shown["state"])
        return shown | {"seen": " ".join(dict.fromkeys(seen))}


def fields(output: str) -> dict[str, str]:
    """``    name   : value`` lines of the client's text output as a dict."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        match = re.match(r"^ {4}(\S[^:]*?)\s*: ?(.*)$", line)
        if match:
            found.setdefault(match.group(1), match.group(2).strip())
    return found
