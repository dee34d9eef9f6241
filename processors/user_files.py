"""The requesting user's own file-system worker, for the processes that touch POSIX disk
as that user (indexer, transfer-put, transfer-get): every file-system call of a request
runs in it, with the user's credentials, so the kernel checks each one (D208 keeps one
for the same requester a few seconds)."""

from __future__ import annotations

from nearline.settings import Settings
from stores.posix.pool import shared_pool
from stores.posix.requesters import RefusedRequester, UnknownUser, requester_for
from stores.posix.session import UserFiles, WorkerFailed


class NoWorker(Exception):
    """No worker for the user: the reason is reported for every file of the request."""


def worker_for(settings: Settings, user: str) -> UserFiles:
    """A worker running as ``user`` (its name, uid and every group as looked up now), or
    ``NoWorker`` saying why there is none."""
    posix = settings.posix
    try:
        who = requester_for(user, posix.min_uid)
        return shared_pool(posix.worker_idle_s).take(who, posix.min_uid, posix.worker_timeout_s)
    except UnknownUser:
        raise NoWorker(f"user {user} is not known on the file servers") from None
    except (RefusedRequester, WorkerFailed) as refused:
        raise NoWorker(str(refused)) from None
