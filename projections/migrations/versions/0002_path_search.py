"""path search for the API: path text function, trigram index, status by group

Revision ID: 0002
Revises: 0001

Regular expressions match a path's *text*: its UTF-8 decoding with every byte that is not
part of valid UTF-8 written as ``\\xNN`` (exactly Python's ``backslashreplace``, which
``api.paths.path_text`` uses). On PostgreSQL the function ``nearline_path_text(bytea)``
computes it, and a pg_trgm GIN index on it lets ``~`` skip most rows. The function has
no EXCEPTION block, so it stays PARALLEL SAFE. Without the right to create pg_trgm the
index is skipped and regex searches scan.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

# The byte-by-byte decoding of a path as UTF-8, every other byte as \xNN: the end of
# this PL/pgSQL function and of 0003's nearline_path_text_escaped.
UTF8_DECODING = r"""
    WHILE i < n LOOP
        b := get_byte(path, i);
        lo := 128;
        hi := 191;
        IF b BETWEEN 1 AND 127 THEN need := 0;
        ELSIF b BETWEEN 194 AND 223 THEN need := 1;
        ELSIF b = 224 THEN need := 2; lo := 160;
        ELSIF b BETWEEN 225 AND 236 OR b IN (238, 239) THEN need := 2;
        ELSIF b = 237 THEN need := 2; hi := 159;
        ELSIF b = 240 THEN need := 3; lo := 144;
        ELSIF b BETWEEN 241 AND 243 THEN need := 3;
        ELSIF b = 244 THEN need := 3; hi := 143;
        ELSE need := -1;
        END IF;
        ok := need >= 0 AND i + need < n;
        k := 1;
        WHILE ok AND k <= need LOOP
            IF k = 1 THEN
                ok := get_byte(path, i + k) BETWEEN lo AND hi;
            ELSE
                ok := get_byte(path, i + k) BETWEEN 128 AND 191;
            END IF;
            k := k + 1;
        END LOOP;
        IF ok THEN
            result := result || convert_from(substring(path FROM i + 1 FOR need + 1), 'UTF8');
            i := i + need + 1;
        ELSE
            result := result || '\x' || lpad(to_hex(b), 2, '0');
            i := i + 1;
        END IF;
    END LOOP;
    RETURN result;
END
$fn$
"""

PATH_TEXT = (
    r"""
CREATE OR REPLACE FUNCTION nearline_path_text(path bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
    plain text := encode(path, 'escape');
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
    -- 'escape' rewrites only NUL, bytes >= 0x80 and backslashes: without a backslash in
    -- its output the path is plain ASCII, the common case, and is its own text.
    IF strpos(plain, '\') = 0 THEN
        RETURN plain;
    END IF;"""
    + UTF8_DECODING
)


def upgrade() -> None:
    with op.batch_alter_table("status_transactions", schema=None) as batch_op:
        batch_op.create_index("ix_status_group", ["group", "creation_time"], unique=False)
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite: the API registers the function on each connection; no index
    bind.exec_driver_sql(PATH_TEXT)
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as error:
        log.warning("no pg_trgm (%s): regex searches of paths will scan", error.orig)
        return
    bind.exec_driver_sql(
        "CREATE INDEX ix_files_path_text_trgm ON files "
        "USING gin (nearline_path_text(path) gin_trgm_ops)"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_files_path_text_trgm")
        bind.exec_driver_sql("DROP FUNCTION IF EXISTS nearline_path_text(bytea)")
    with op.batch_alter_table("status_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_status_group")
