"""Where the local stack keeps what it downloads once and reuses."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Downloaded runtimes (Kafka's jars, the S3 server): ``$NEARLINE_CACHE``."""
    default = Path.home() / ".cache" / "nearline"
    return Path(os.environ.get("NEARLINE_CACHE", default))
