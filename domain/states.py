"""Transaction states by their NLDS names and values, which clients filter and sort by,
and the storage tiers a file's copies are on."""

from __future__ import annotations

from enum import IntEnum


class State(IntEnum):
    """NLDS 1.0.0 states; a transaction's overall state is the lowest of its parts."""

    INITIALISING = -1
    ROUTING = 0
    SPLITTING = 1
    INDEXING = 2
    CATALOG_PUTTING = 3
    TRANSFER_PUTTING = 4
    CATALOG_GETTING = 10
    ARCHIVE_GETTING = 11
    TRANSFER_GETTING = 12
    TRANSFER_INIT = 13
    ARCHIVE_INIT = 20
    ARCHIVE_PUTTING = 21
    ARCHIVE_PREPARING = 22
    CATALOG_DELETING = 30
    CATALOG_UPDATING = 31
    CATALOG_ARCHIVE_UPDATING = 32
    CATALOG_REMOVING = 33
    COMPLETE = 100
    FAILED = 101
    COMPLETE_WITH_ERRORS = 102
    COMPLETE_WITH_WARNINGS = 103
    SPLIT = 110
    SEARCHING = 1000


FINAL = frozenset(
    {State.COMPLETE, State.FAILED, State.COMPLETE_WITH_ERRORS, State.COMPLETE_WITH_WARNINGS}
)
FINAL_NAMES = frozenset(state.name for state in FINAL)
"""The final states as the status rows and events spell them."""

OBJECT_STORAGE = "OBJECT_STORAGE"
"""The S3 cache, as a location's storage type (NLDS's name)."""
TAPE = "TAPE"
"""The tape tier, as a location's storage type."""


def parse_state(text: str | int) -> State:
    """A state from its name (any case) or its number; ValueError naming the choices."""
    if isinstance(text, int) or text.strip().lstrip("-").isdigit():
        try:
            return State(int(text))
        except ValueError:
            pass
    else:
        name = text.strip().upper()
        if name in State.__members__:
            return State[name]
    choices = ", ".join(f"{s.name}={s.value}" for s in State)
    raise ValueError(f"{text!r} is not a state; use one of {choices}.")


def state_of(name: str) -> State:
    """The state a projection row names; unknown names (newer writers) count as ROUTING,
    the earliest state a transaction shows, rather than failing the query."""
    return State.__members__.get(name, State.ROUTING)
