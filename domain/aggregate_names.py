"""Tape paths of aggregates: a function of the holding and the members' file ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

LAYOUT = "nearline-tar-1"  # part of every aggregate name: a new layout never meets old files


def aggregate_name(holding_id: int, file_ids: Iterable[int]) -> str:
    """The tape path of the aggregate of these files: the same for the same holding and
    file ids (in any order), so that a re-run writes, and finds, the same file."""
    ids = sorted(file_ids)
    digest = hashlib.sha256(f"{LAYOUT}:{holding_id}:{ids}".encode()).hexdigest()
    return f"h{holding_id}/agg-{digest[:20]}.tar"
