"""The stack's folders are closed to other local users.

``$NEARLINE_HOME`` holds credentials (stack.toml, the broker's properties), the log, the
catalog and the cached bytes of every user: any local user is assumed hostile, so nothing
in it may be readable by another account. The home is 0700, or, when root runs the stack,
0710 with the group of the service account, so that PostgreSQL and XRootD (which refuse
root and run as that account) can pass through it to their own 0700 folders and nowhere
else. Every entry directly in the home is closed too, which covers what older stacks
created with looser modes; the services themselves run with umask 077.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

from nearline.daemons import StackError, running_as_root, service_account

UMASK = 0o077


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files and folders made meanwhile (by this process) are its own only."""
    previous = os.umask(UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def private_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only, then move it into place:
    no moment where another user (or an older owner of the file) could read it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.new")
    fresh.unlink(missing_ok=True)
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    fresh.replace(path)


def close(path: Path) -> None:
    """Make ``path`` (a folder or a file, never followed if a link) its owner's only."""
    with contextlib.suppress(FileNotFoundError):
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            os.chmod(path, 0o700)
        elif stat.S_ISREG(mode):
            os.chmod(path, stat.S_IMODE(mode) & 0o700)


def close_home(home: Path) -> None:
    """Create the home if needed and close it and each entry in it (see module doc)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if running_as_root():
        os.chown(home, -1, service_account().pw_gid)
        os.chmod(home, 0o710)
    else:
        os.chmod(home, 0o700)
    for entry in home.iterdir():
        close(entry)


def _may_enter(folder: Path, account: pwd.struct_passwd) -> bool:
    """Whether ``account`` (uid, primary group, no other) may pass through ``folder``:
    asked of the kernel, as ACLs and the like count too."""
    done = subprocess.run(
        ["test", "-x", str(folder)],
        check=False,
        user=account.pw_uid,
        group=account.pw_gid,
        extra_groups=[],
    )
    return done.returncode == 0


def check_service_account_reaches(home: Path) -> None:
    """Fail with one line saying what to do when the service account cannot pass
    through a folder above the home (a home under /root, for instance): PostgreSQL and
    XRootD could not reach their data."""
    if not running_as_root():
        return
    account = service_account()
    if _may_enter(home, account):
        return
    blocked = next(
        (f for f in reversed(home.parents) if not _may_enter(f, account)),
        home,
    )
    raise StackError(
        f"the service account {account.pw_name!r} (PostgreSQL, XRootD) cannot pass through "
        f"{blocked}, so it cannot reach NEARLINE_HOME={home}: choose a NEARLINE_HOME under "
        f"folders it may enter (such as /srv or /var/tmp), or let it in with "
        f"`setfacl -m u:{account.pw_name}:x {blocked}`"
    )
