"""The users file of the local provider, and its command line.

The file is TOML, one table per user::

    [users."alice"]
    password = "scrypt$16384$8$1$...$..."
    groups = ["climate", "ocean"]     # primary group first; ignored in host mode

Manage it with ``python -m api.auth.users add NAME --group G`` (asks for the password)
and ``python -m api.auth.users remove NAME``. The file holds hashes only, never passwords,
and is written with mode 0600.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from api.auth.passwords import hash_password
from nearline.settings import Settings, get_settings


@dataclass(frozen=True)
class UserEntry:
    password: str
    groups: tuple[str, ...] = field(default=())


def read_users(path: Path) -> dict[str, UserEntry]:
    """Every user in the file; an absent file has none."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    users = {}
    for name, entry in data.get("users", {}).items():
        if isinstance(entry, dict) and isinstance(entry.get("password"), str):
            groups = tuple(str(g) for g in entry.get("groups", []))
            users[name] = UserEntry(entry["password"], groups)
    return users


def write_users(path: Path, users: dict[str, UserEntry]) -> None:
    """Replace the file atomically, readable by its owner only."""
    lines = ["# nearline users: `python -m api.auth.users add NAME --group G` to change.\n"]
    for name in sorted(users):
        entry = users[name]
        # JSON string escapes are valid TOML basic-string escapes.
        lines.append(f"\n[users.{json.dumps(name)}]\n")
        lines.append(f"password = {json.dumps(entry.password)}\n")
        lines.append(f"groups = [{', '.join(json.dumps(g) for g in entry.groups)}]\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(lines)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def add_user(path: Path, name: str, password: str, groups: list[str]) -> None:
    """Add a user, or replace the password and groups of one that exists."""
    if not name or not password:
        raise ValueError("a user needs a name and a non-empty password")
    users = read_users(path)
    users[name] = UserEntry(hash_password(password), tuple(groups))
    write_users(path, users)


def remove_user(path: Path, name: str) -> bool:
    """Remove a user; False if there was none of that name."""
    users = read_users(path)
    if users.pop(name, None) is None:
        return False
    write_users(path, users)
    return True


def users_file(settings: Settings) -> Path:
    """The users file the settings name: ``auth.local.users_file``, or the home's."""
    return settings.auth.local.users_file or settings.home / "users.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m api.auth.users", description="Manage the local provider's users."
    )
    parser.add_argument("--file", type=Path, help="the users file (default: from settings)")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a user or change their password and groups")
    add.add_argument("name")
    add.add_argument("--group", action="append", default=[], help="a group (repeat; primary first)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    remove = commands.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    args = parser.parse_args(argv)
    path: Path = args.file or users_file(get_settings())

    if args.command == "add":
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"Password for {args.name}: ")
            if getpass.getpass("Again: ") != password:
                print("The passwords differ; nothing was changed.", file=sys.stderr)
                return 1
        try:
            add_user(path, args.name, password, args.group)
        except ValueError as error:
            print(f"{error}; nothing was changed.", file=sys.stderr)
            return 1
        print(f"{args.name} is in {path}")
        return 0
    if not remove_user(path, args.name):
        print(f"{args.name} is not in {path}; nothing was changed.", file=sys.stderr)
        return 1
    print(f"{args.name} was removed from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
