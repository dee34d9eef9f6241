"""How full the S3 cache is, from the catalog: the bytes of every cataloged file that
has an object-store copy. Cheaper than listing the bucket, and it counts what nearline
decided, which is what eviction acts on."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel
from sqlalchemy import Engine, func, select

from domain.states import OBJECT_STORAGE
from nearline.observe.metrics import Cached
from nearline.settings import Settings
from projections import tables as t

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheUsage:
    used_bytes: int
    files: int
    watermarks: dict[str, float] = field(default_factory=dict)

    def share_of(self, name: str) -> float | None:
        """Use against a watermark given in bytes; None for a missing mark or one given as
        a fraction of a capacity (at most 1), which these figures cannot judge."""
        mark = self.watermarks.get(name)
        return self.used_bytes / mark if mark and mark > 1 else None


def watermarks(settings: Settings) -> dict[str, float]:
    """Every numeric setting whose name contains ``watermark``, by dotted name."""
    found: dict[str, float] = {}

    def walk(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value: Any = getattr(model, name)
            if isinstance(value, BaseModel):
                walk(value, f"{prefix}{name}.")
            elif "watermark" in name and isinstance(value, int | float):
                found[f"{prefix}{name}"] = float(value)

    walk(settings, "")
    return found


def cache_usage(settings: Settings, engine: Engine) -> CacheUsage:
    query = (
        select(func.coalesce(func.sum(t.files.c.size), 0), func.count())
        .select_from(t.files.join(t.locations, t.locations.c.file_id == t.files.c.id))
        .where(t.locations.c.storage_type == OBJECT_STORAGE)
        .where(t.files.c.state == "CATALOGED")
    )
    with engine.connect() as conn:
        used, count = conn.execute(query).one()
    return CacheUsage(int(used), int(count), watermarks(settings))


class CacheCollector(Collector):
    """``nearline_cache_used_bytes`` (from the catalog) and the cache watermarks, when the
    settings declare any (fields named ``*watermark*``)."""

    def __init__(self, settings: Settings, engine: Any) -> None:
        self.reading = Cached(lambda: cache_usage(settings, engine), settings.metrics.lag_cache_s)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            usage = self.reading.get()
        except Exception as error:
            log.warning("cannot read cache use: %s", error)
            return []
        used = GaugeMetricFamily(
            "nearline_cache_used_bytes", "Bytes of cataloged files held in the object store."
        )
        used.add_metric([], usage.used_bytes)
        marks = GaugeMetricFamily(
            "nearline_cache_watermark",
            "Cache watermark settings, as configured.",
            labels=["name"],
        )
        for name, value in usage.watermarks.items():
            marks.add_metric([name], value)
        return [used, marks]
