"""Real host accounts for tests that check file access as the requesting user."""

from __future__ import annotations

import grp
import os
import pwd
import subprocess


def ensure_account(user: str, group: str) -> tuple[str, str]:
    """Create ``user`` with primary group ``group`` unless they exist (needs root)."""
    try:
        grp.getgrnam(group)
    except KeyError:
        subprocess.run(["groupadd", group], check=True)
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(
            ["useradd", "--no-create-home", "-g", group, "-s", "/usr/sbin/nologin", user],
            check=True,
        )
    return user, group


def chown(path: str | bytes, user: str, group: str) -> None:
    os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid, follow_symlinks=False)
