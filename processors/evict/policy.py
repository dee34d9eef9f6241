"""The eviction policy: which cache copies go, decided from the cache's use.

Above the high watermark of the cache's capacity, cache copies of archived files are
removed, least recently accessed first, until use is at the low watermark. Files smaller
than ``min_size``, and files of holdings whose label matches a kept pattern or which carry
a kept tag, keep their cache copy. Pure: the caller selects the candidates.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from domain.eviction import CachedCopy
from domain.pack_keys import pack_of
from nearline.settings import EvictionSettings


@dataclass(frozen=True)
class Rules:
    capacity: int
    high: float
    low: float
    min_size: int = 0
    keep_labels: tuple[str, ...] = ()
    keep_tags: tuple[str, ...] = ("cache:keep",)

    @classmethod
    def of(cls, settings: EvictionSettings) -> Rules:
        return cls(
            capacity=settings.cache_capacity_bytes,
            high=settings.high_watermark,
            low=settings.low_watermark,
            min_size=settings.min_size_bytes,
            keep_labels=tuple(settings.keep_labels),
            keep_tags=tuple(settings.keep_tags),
        )

    def keeps(self, candidate: CachedCopy) -> bool:
        """Whether the file keeps its cache copy whatever the cache's use."""
        if candidate.size < self.min_size:
            return True
        if any(fnmatch.fnmatchcase(candidate.label, p) for p in self.keep_labels):
            return True
        return any(_tagged(candidate.tags, tag) for tag in self.keep_tags)


def _tagged(tags: Mapping[str, str], rule: str) -> bool:
    key, has_value, value = rule.partition(":")
    return key in tags and (not has_value or tags[key] == value)


@dataclass(frozen=True)
class Plan:
    usage: int  # bytes in the cache now
    target: int  # bytes to be left once the chosen copies are gone
    chosen: tuple[CachedCopy, ...]

    @property
    def freed(self) -> int:
        return sum(c.size for c in self.chosen)


def choose(usage: int, candidates: Iterable[CachedCopy], rules: Rules) -> Plan:
    """The cache copies to remove: none below the high watermark; otherwise the least
    recently accessed of those the rules allow, until use reaches the low watermark."""
    target = int(rules.capacity * rules.low)
    if usage <= rules.capacity * rules.high:
        return Plan(usage, usage, ())
    chosen: list[CachedCopy] = []
    left = usage
    for unit in _units(candidates):
        if left <= target:
            break
        if any(rules.keeps(candidate) for candidate in unit):
            continue
        chosen += unit
        left -= sum(candidate.size for candidate in unit)
    return Plan(usage, left, tuple(chosen))


def _units(candidates: Iterable[CachedCopy]) -> list[list[CachedCopy]]:
    """What goes together, least recently accessed first: a file stored alone, or the
    files of one pack, which only frees its space when all of them go (D90)."""
    units: dict[object, list[CachedCopy]] = {}
    for candidate in candidates:
        pack = pack_of(candidate.object_key)
        units.setdefault(pack if pack is not None else candidate.file_id, []).append(candidate)
    return sorted(
        units.values(),
        key=lambda unit: (max(c.access_time for c in unit), min(c.file_id for c in unit)),
    )


def by_holding(chosen: Sequence[CachedCopy]) -> dict[int, list[CachedCopy]]:
    """The chosen copies grouped per holding: one evict request each."""
    groups: dict[int, list[CachedCopy]] = {}
    for candidate in chosen:
        groups.setdefault(candidate.holding_id, []).append(candidate)
    return groups
