"""What the decider reads from the catalog projection, and only through these ports,
which its wiring (``processors.catalog.wiring``) builds and passes in (decision D140).

A GET's or STAGE's selection reads the read model (FIND's query, decision D11): what it
selects is then recorded as facts. Group and tape use for quotas are read from it too
(``processors.catalog.quotas.Usage``). Invariants (ownership, uniqueness, a user's
quota) are decided from the fold, never from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from events.catalog import SelectedFile
from events.requests import GetRequested


@dataclass(frozen=True)
class TapeCopy:
    """Where a file's tape copy is: its aggregate and the member's data offset in it, and
    the object key its cache copy is put back under."""

    aggregate: str
    offset: int
    object_key: str


@dataclass(frozen=True)
class Selection:
    """What a GET selected: the entries (newest versions unless a holding was chosen),
    the ids of those with a tape copy, and the requested paths that matched nothing;
    ``tape_copies`` says where the tape copies of the files without a cache copy are."""

    files: list[SelectedFile]
    on_tape: frozenset[int] = frozenset()
    not_found: list[bytes] = field(default_factory=list)
    tape_copies: Mapping[int, TapeCopy] = field(default_factory=dict)


Selector = Callable[[GetRequested], Selection]
"""Selects a GET's files from the catalog projection; raises ``InvalidQuery`` (or
``QueryTooSlow``) for a request that cannot be answered, and any other error when the
database cannot be reached (the request is then redelivered)."""
