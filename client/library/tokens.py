"""Where the client keeps its tokens: ``~/.config/nearline/token.json`` (mode 0600), and,
for the NLDS client, the token file that ``~/.nlds-config`` names."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFRESH_MARGIN_S = 30  # refresh this long before the access token expires


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nearline"


def token_path() -> Path:
    return config_dir() / "token.json"


@dataclass
class Session:
    """A login: the server it is for, the user, and the token endpoint's reply."""

    server: str
    user: str
    token: dict[str, Any]
    obtained_at: float

    @property
    def access_token(self) -> str:
        return str(self.token["access_token"])

    @property
    def refresh_token(self) -> str | None:
        value = self.token.get("refresh_token")
        return str(value) if value else None

    def expired(self, now: float | None = None) -> bool:
        lifetime = float(self.token.get("expires_in", 0) or 0)
        if lifetime <= 0:
            return False
        return (now or time.time()) >= self.obtained_at + lifetime - REFRESH_MARGIN_S


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write JSON readable by its owner only, replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(partial, 0o600)
    os.replace(partial, path)


def load_session(path: Path | None = None) -> Session | None:
    path = path or token_path()
    try:
        data = json.loads(path.read_text())
        return Session(data["server"], data["user"], data["token"], float(data["obtained_at"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None  # a damaged file is as good as none: log in again


def save_session(session: Session, path: Path | None = None) -> None:
    write_private(
        path or token_path(),
        {
            "server": session.server,
            "user": session.user,
            "token": session.token,
            "obtained_at": session.obtained_at,
        },
    )


def forget_session(path: Path | None = None) -> None:
    (path or token_path()).unlink(missing_ok=True)


# -- the NLDS client's files -------------------------------------------------------------

NLDS_CONFIG = "~/.nlds-config"
NLDS_TOKEN = "~/.nlds-token"  # the client's default oauth_token_file_location


def nlds_token_path(config_path: Path | None = None) -> Path:
    """The token file the NLDS client reads: ``oauth_token_file_location`` of its config,
    else its default."""
    config_path = config_path or Path(NLDS_CONFIG).expanduser()
    try:
        config = json.loads(config_path.read_text())
        location = config["authentication"]["oauth_token_file_location"]
    except (OSError, ValueError, KeyError, TypeError):
        location = NLDS_TOKEN
    return Path(os.path.expanduser(str(location)))


NO_TENANCY = "* nearline needs no object-store keys; the token was renewed *"
"""The ``object_storage.tenancy`` of a config written for nearline. ``nlds renew`` (and
``nlds init``) send the user's password to ``http://{tenancy}:81/.TOKEN/`` for object-store
keys, which nearline does not use; this text is no host name (spaces, a leading ``*``), so
the client's HTTP library refuses that URL before connecting anywhere, and the user reads
why. Any host name there, even ``unused`` (which a DNS search domain may resolve), would
receive the password in clear. The API's ``init/`` route serves the same text."""
OLD_TENANCY = "unused"  # what nearline wrote before


def nlds_config(server: str, user: str, group: str, client_id: str = "nearline") -> dict[str, Any]:
    """A ``~/.nlds-config`` for nearline (``nlds init`` cannot write one: see docs/api.md)."""
    return {
        "server": {"url": server, "api": "api/1.0.0"},
        "user": {"default_user": user, "default_group": group},
        "authentication": {
            "oauth_client_id": client_id,
            "oauth_client_secret": "",
            "oauth_token_url": f"{server}/api/v1/token",
            "oauth_scopes": "nearline",
            "oauth_token_file_location": NLDS_TOKEN,
        },
        # Required by the client's validator; nearline ignores them.
        "object_storage": {"tenancy": NO_TENANCY, "access_key": "unused", "secret_key": "unused"},
        "options": {"verify_certificates": True},
    }


def write_nlds_files(
    session: Session, group: str, config_path: Path | None = None
) -> tuple[Path, Path | None]:
    """Write the token file the NLDS client reads (the raw token reply) and, when there is
    none, a ``~/.nlds-config`` pointing at this server. Returns (token file, config written)."""
    config_path = config_path or Path(NLDS_CONFIG).expanduser()
    written = None
    if not config_path.exists():
        write_private(config_path, nlds_config(session.server, session.user, group))
        written = config_path
    elif _renew_would_leak(config_path):
        write_private(config_path, _with_no_tenancy(config_path))
        written = config_path
    token_file = nlds_token_path(config_path)
    write_private(token_file, session.token)
    return token_file, written


def _renew_would_leak(config_path: Path) -> bool:
    """Whether the config holds the tenancy older nearline wrote (see ``NO_TENANCY``)."""
    try:
        config = json.loads(config_path.read_text())
        return bool(config["object_storage"]["tenancy"] == OLD_TENANCY)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _with_no_tenancy(config_path: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(config_path.read_text())
    config["object_storage"]["tenancy"] = NO_TENANCY
    return config
