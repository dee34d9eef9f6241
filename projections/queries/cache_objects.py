"""The objects of the S3 cache that the catalog names, in the order S3 lists keys: what
``nearline-admin orphans`` compares the bucket's listing with."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, select

from domain.pack_keys import pack_of
from domain.states import OBJECT_STORAGE
from projections import tables as t

ROWS_AT_ONCE = 10_000


def named_objects(conn: Connection, bucket: str) -> Iterator[str]:
    """The key of every object in ``bucket`` that a cataloged file's copy is, or is a
    slice of, each once, ascending by the keys' bytes as S3 lists them. A slice's key is
    its pack's followed by ``#``, which sorts below every character of a key: the packs
    come out in order too."""
    loc = t.locations
    order = loc.c.path.collate("C") if conn.dialect.name == "postgresql" else loc.c.path
    query = (
        select(loc.c.path)
        .where(loc.c.storage_type == OBJECT_STORAGE, loc.c.root == bucket)
        .order_by(order)
    )
    rows = conn.execution_options(stream_results=True, yield_per=ROWS_AT_ONCE).execute(query)
    last = None
    for (key,) in rows:
        name = pack_of(key) or key
        if name != last:
            yield name
            last = name
