"""Reading what the projections show, for tests: waiting for a transaction to finish,
and the files, checksums and locations of a holding."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, select

from projections import tables as t

TERMINAL = {"COMPLETE", "COMPLETE_WITH_ERRORS", "FAILED"}


@dataclass
class Outcome:
    state: str
    holding_id: int | None
    label: str | None
    warnings: list[str]
    failures: dict[bytes, str]
    sub_states: dict[int, str]


def wait_for_transaction(engine: Engine, transaction_id: str, timeout: float = 120) -> Outcome:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            row = conn.execute(
                select(t.status_transactions).where(
                    t.status_transactions.c.transaction_id == transaction_id
                )
            ).first()
            if row is not None and row.state in TERMINAL:
                failures = {
                    f.path: f.reason
                    for f in conn.execute(
                        select(t.status_failed_files).where(
                            t.status_failed_files.c.transaction_id == transaction_id
                        )
                    )
                }
                subs = {
                    s.sub_id: s.state
                    for s in conn.execute(
                        select(t.status_sub_records).where(
                            t.status_sub_records.c.transaction_id == transaction_id
                        )
                    )
                }
                return Outcome(
                    row.state, row.holding_id, row.label, list(row.warnings), failures, subs
                )
        if time.monotonic() > deadline:
            state = row.state if row is not None else "not in the status projection"
            raise TimeoutError(f"transaction {transaction_id} did not finish: {state}")
        time.sleep(0.3)


def holding_files(engine: Engine, holding_id: int) -> dict[bytes, dict]:
    """Cataloged files of a holding by path, with checksums and locations."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.files).where(
                (t.files.c.holding_id == holding_id) & (t.files.c.state == "CATALOGED")
            )
        )
        result = {r.path: dict(r._mapping) | {"checksums": {}, "locations": {}} for r in rows}
        by_id = {f["id"]: f for f in result.values()}
        for c in conn.execute(select(t.checksums).where(t.checksums.c.file_id.in_(by_id))):
            by_id[c.file_id]["checksums"][c.algorithm] = c.value
        for loc in conn.execute(select(t.locations).where(t.locations.c.file_id.in_(by_id))):
            by_id[loc.file_id]["locations"][loc.storage_type] = (loc.root, loc.path)
    return result
