"""Who is asking, and what POSIX mode bits let them do.

The service runs as root and could read everything, so every check here is made for the
requesting user instead, the way the kernel's permission check would answer for their
uid and groups. Only mode bits are evaluated: POSIX ACLs and capabilities are not, and
uid 0 gets no special treatment (a requester is an ordinary user).
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass

_READ = 0o4
_EXECUTE = 0o1


class UnknownUser(LookupError):
    """The user is not in the host user database."""


@dataclass(frozen=True)
class Requester:
    """The user a PUT acts for; ``gids`` holds every group they belong to, primary included."""

    name: str
    uid: int
    gids: frozenset[int]


def requester_for(user: str) -> Requester:
    """Look ``user`` up in the host user database (passwd and group, through NSS)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise UnknownUser(f"unknown user {user!r}: not in the host user database") from None
    # getgrouplist asks NSS the same question login's initgroups does (primary group plus
    # every group naming the user as member), without enumerating a large LDAP group list.
    groups = os.getgrouplist(entry.pw_name, entry.pw_gid)
    return Requester(name=entry.pw_name, uid=entry.pw_uid, gids=frozenset([entry.pw_gid, *groups]))


def _granted(st: os.stat_result, who: Requester) -> int:
    """The rwx bits of the single class the kernel picks: owner first, then group, then other.

    The first class that matches decides, even when a later class would grant more.
    """
    if st.st_uid == who.uid:
        return (st.st_mode >> 6) & 0o7
    if st.st_gid in who.gids:
        return (st.st_mode >> 3) & 0o7
    return st.st_mode & 0o7


def can_read(st: os.stat_result, who: Requester) -> bool:
    """Whether ``who`` may read the file or directory ``st`` describes."""
    return bool(_granted(st, who) & _READ)


def can_search(st: os.stat_result, who: Requester) -> bool:
    """Whether ``who`` may look names up in the directory ``st`` (x on a directory)."""
    return stat.S_ISDIR(st.st_mode) and bool(_granted(st, who) & _EXECUTE)


def can_list(st: os.stat_result, who: Requester) -> bool:
    """Whether ``who`` may list the directory ``st`` and stat its entries (r and x)."""
    wanted = _READ | _EXECUTE
    return stat.S_ISDIR(st.st_mode) and _granted(st, who) & wanted == wanted
