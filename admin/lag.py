"""``nearline-admin lag``: consumer-group lag per processor and partition, from Kafka."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from admin.app import app
from nearline.observe.lag import GroupState, group_states
from nearline.settings import get_settings


@app.command("lag")
def lag(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    partitions: Annotated[
        bool, typer.Option("--partitions", "-p", help="one row per partition")
    ] = False,
) -> None:
    """Records each processor has yet to consume (high watermark minus committed offset),
    and whether its consumer group has live members."""
    states = group_states(get_settings())
    if as_json:
        typer.echo(json.dumps({"processors": [s.as_dict() for s in states]}, indent=2))
        return
    typer.echo(table(states, partitions))


def table(states: list[GroupState], partitions: bool) -> str:
    rows: list[tuple[str, ...]] = [
        ("PROCESSOR", "GROUP", "STATE", "MEMBERS", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG")
    ]
    for s in states:
        state = "up" if s.up else "down"
        if partitions:
            for p in s.partitions:
                committed = "-" if p.committed is None or p.committed < 0 else str(p.committed)
                rows.append(
                    (
                        s.processor,
                        s.group,
                        state,
                        str(s.members),
                        p.topic,
                        str(p.partition),
                        committed,
                        str(p.high),
                        str(p.lag),
                    )
                )
        else:
            topics = ",".join(sorted({p.topic for p in s.partitions}))
            end = sum(p.high for p in s.partitions)
            rows.append(
                (
                    s.processor,
                    s.group,
                    state,
                    str(s.members),
                    topics,
                    "all",
                    "",
                    str(end),
                    str(s.lag),
                )
            )
    if not partitions:
        rows = [tuple(c for i, c in enumerate(r) if i not in (5, 6)) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
