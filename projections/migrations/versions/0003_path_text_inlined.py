"""path text: an inlinable SQL function with a fast path for ASCII paths

Revision ID: 0003
Revises: 0002

``nearline_path_text`` (0002) was PL/pgSQL, and a PL/pgSQL call costs about 5 µs a row:
a regex search that filters rows while walking the (holding_id, path) index paid it on
every row. It becomes a one-expression SQL function, which PostgreSQL inlines into the
query (and into the trigram index's expression, so the index still matches): plain
ASCII paths, nearly all of them, cost two built-in calls; only the others go to the
byte-by-byte PL/pgSQL decoder, now ``nearline_path_text_escaped``. Results are unchanged,
so the index is not rebuilt.
"""

from __future__ import annotations

from importlib import import_module

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

previous = import_module("projections.migrations.versions.0002_path_search")

ESCAPED = (
    r"""
CREATE OR REPLACE FUNCTION nearline_path_text_escaped(path bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
    result text := '';
    n int := length(path);
    i int := 0;
    b int;
    need int;
    lo int;
    hi int;
    k int;
    ok boolean;
BEGIN
    -- UTF-8 as Python decodes it (Unicode table 3-7); every other byte becomes \xNN."""
    + previous.UTF8_DECODING
)

# Not STRICT, so that PostgreSQL inlines it; 'escape' rewrites only NUL, bytes >= 0x80
# and backslashes, so without a backslash in its output the path is plain ASCII.
PATH_TEXT = r"""
CREATE OR REPLACE FUNCTION nearline_path_text(path bytea) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE
        WHEN strpos(encode(path, 'escape'), '\') = 0 THEN encode(path, 'escape')
        ELSE nearline_path_text_escaped(path)
    END
$fn$
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.exec_driver_sql(ESCAPED)
    bind.exec_driver_sql(PATH_TEXT)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.exec_driver_sql(previous.PATH_TEXT)
    bind.exec_driver_sql("DROP FUNCTION IF EXISTS nearline_path_text_escaped(bytea)")
