"""The user commands of ``nearline``; each lives in a module of its own, imported here."""

from client.cli import auth, carts, catalog, history, staging, status, transfers  # noqa: F401
