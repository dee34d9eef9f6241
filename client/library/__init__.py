"""nearline's Python client library: ``Client`` over the v1 HTTP API, its errors, and
where logins are kept.

    from client.library import Client
    with Client("https://nearline.example.org") as nearline:
        nearline.login("alice", password)
        accepted = nearline.put(["/gws/run1"], label="run1", tags={"project": "x"})
        print(nearline.transaction(accepted["transaction_id"])["state"])
"""

from client.library.client import DEFAULT_SERVER, Client, server_url
from client.library.errors import (
    LoginFailed,
    NearlineError,
    NotFound,
    NotLoggedIn,
    Refused,
    ServerError,
    ServerUnreachable,
)

__all__ = [
    "DEFAULT_SERVER",
    "Client",
    "LoginFailed",
    "NearlineError",
    "NotFound",
    "NotLoggedIn",
    "Refused",
    "ServerError",
    "ServerUnreachable",
    "server_url",
]
