"""The ``nearline admin`` commands; each lives in a module of its own, imported here."""

from nearline.admin import (
    dlq,  # noqa: F401
    history,  # noqa: F401
    replay,  # noqa: F401
)
