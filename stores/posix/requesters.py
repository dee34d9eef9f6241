"""Who a request acts for, and whether nearline may act for them at all.

Only ordinary accounts are served: uid 0 never (a request as root would make the service
root's proxy for anyone who can forge a user name), nor accounts below a minimum uid
(system accounts; ``posix.min_uid``, default 1000). A service that is not itself root can
only ever act as itself.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

DEFAULT_MIN_UID = 1000


class UnknownUser(LookupError):
    """The user is not in the host user database."""


class RefusedRequester(PermissionError):
    """nearline does not act for this account; the message says why."""


@dataclass(frozen=True)
class Requester:
    """The user a request acts for; ``gids`` holds every group they belong to, primary
    included; ``gid`` is the primary group (what new files get)."""

    name: str
    uid: int
    gids: frozenset[int]
    gid: int | None = None

    @property
    def primary_gid(self) -> int:
        if self.gid is not None:
            return self.gid
        if len(self.gids) == 1:
            return next(iter(self.gids))
        try:
            return pwd.getpwuid(self.uid).pw_gid
        except KeyError:
            return min(self.gids)


def requester_for(user: str, min_uid: int = DEFAULT_MIN_UID) -> Requester:
    """Look ``user`` up in the host user database (passwd and groups, through NSS);
    raises ``UnknownUser`` or ``RefusedRequester``."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise UnknownUser(f"unknown user {user!r}: not in the host user database") from None
    # getgrouplist asks NSS what login's initgroups would (primary group and every group
    # naming the user), without enumerating a large LDAP group list.
    groups = os.getgrouplist(entry.pw_name, entry.pw_gid)
    who = Requester(entry.pw_name, entry.pw_uid, frozenset([entry.pw_gid, *groups]), entry.pw_gid)
    check_servable(who, min_uid)
    return who


def check_servable(who: Requester, min_uid: int = DEFAULT_MIN_UID) -> None:
    """Raise ``RefusedRequester`` unless nearline may act for ``who``."""
    if who.uid == 0:
        raise RefusedRequester(
            f"nearline does not act for {who.name} (uid 0): put and get files as an ordinary user"
        )
    if who.uid < min_uid:
        raise RefusedRequester(
            f"nearline does not act for system account {who.name} (uid {who.uid}, below"
            f" the minimum uid {min_uid} set by posix.min_uid)"
        )
    if os.geteuid() != 0 and who.uid != os.geteuid():
        raise RefusedRequester(
            f"this nearline runs as uid {os.geteuid()}, not as root, and can act only for that user"
        )
