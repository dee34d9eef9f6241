"""The ``nearline-admin`` commands; each lives in a module of its own, imported here."""

from admin import dlq, history, lag, orphans, replay, serve, tail, tape  # noqa: F401
