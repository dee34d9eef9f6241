"""A cached file with a tape copy: what the eviction policy chooses among, as the read
side finds it and the policy takes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CachedCopy:
    """A cached file with a tape copy, and the tags of its holding: its cache copy may go."""

    file_id: int
    holding_id: int
    user: str
    group: str
    label: str
    path: bytes
    object_key: str
    size: int
    access_time: int  # epoch milliseconds
    tags: Mapping[str, str] = field(default_factory=dict)
