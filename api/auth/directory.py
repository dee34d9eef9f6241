"""Who the local provider's users are: their passwords come from the users file, their
groups from the same file or from the host (``pwd``/``grp``)."""

from __future__ import annotations

import grp
import os
import pwd
import threading
from pathlib import Path
from typing import Literal

from api.auth.passwords import dummy_hash, verify_password
from api.auth.users import UserEntry, read_users


class Directory:
    """Looks users up; re-reads the users file whenever it changes on disk."""

    def __init__(self, users_file: Path, groups_from: Literal["file", "host"] = "file") -> None:
        self.users_file = users_file
        self.groups_from = groups_from
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, UserEntry] = {}

    def check_password(self, user: str, password: str) -> bool:
        """Whether the password is the user's; a user absent from the file has none."""
        entry = self._entries().get(user)
        if entry is None:
            verify_password(password, dummy_hash())
            return False
        return verify_password(password, entry.password)

    def knows(self, user: str) -> bool:
        """Whether the users file still has the user (refresh tokens die with the entry)."""
        return user in self._entries()

    def password_hash(self, user: str) -> str | None:
        """The user's password hash as the file holds it now; None for no such user.
        Tokens carry a digest of it, so that a new password ends the old tokens."""
        entry = self._entries().get(user)
        return entry.password if entry is not None else None

    def groups_of(self, user: str) -> tuple[str, ...] | None:
        """The user's groups, primary first; None if there is no such user."""
        if self.groups_from == "host":
            return host_groups(user)
        entry = self._entries().get(user)
        return entry.groups if entry is not None else None

    def _entries(self) -> dict[str, UserEntry]:
        try:
            st = self.users_file.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._users = read_users(self.users_file) if stamp else {}
                self._stamp = stamp
            return self._users


def host_groups(user: str) -> tuple[str, ...] | None:
    """A host account's groups, primary group first; None if the host has no such user."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        return None
    names = []
    for gid in [account.pw_gid, *os.getgrouplist(user, account.pw_gid)]:
        try:
            name = grp.getgrgid(gid).gr_name
        except KeyError:
            continue  # a gid with no name cannot be named in a request
        if name not in names:
            names.append(name)
    return tuple(names)
