"""The user commands of ``nearline``; each lives in a module of its own, imported here."""

from client.cli import (  # noqa: F401
    auth,
    carts,
    catalog,
    history,
    operators,
    staging,
    status,
    transfers,
)
