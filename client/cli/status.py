"""``stat``, ``watch`` and ``quota``: how your requests are going, and what you use."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from client.cli import app
from client.cli.common import (
    Group,
    GroupAll,
    Json,
    Limit,
    Order,
    Server,
    client,
    descending,
    err,
    handled,
    out,
    print_json,
    print_table,
)
from client.cli.figures import Rate, describe, progress_of
from client.library import Client, NotFound
from client.library.models import FAILED_STATES, FINAL_STATES, Transaction

Names = Annotated[list[str] | None, typer.Option(help="Repeat for several.")]


@app.command()
@handled
def stat(
    transaction: Annotated[
        str | None, typer.Argument(help="A transaction id (default: your transactions).")
    ] = None,
    id: Annotated[int | None, typer.Option("--id", help="The transaction's number.")] = None,
    job_label: Annotated[str | None, typer.Option("--job-label", "-j")] = None,
    api_action: Names = None,
    exclude_api_action: Names = None,
    state: Annotated[
        list[str] | None, typer.Option("--state", "-s", help="A state name or value; repeat.")
    ] = None,
    groupall: GroupAll = False,
    group: Group = None,
    limit: Limit = None,
    order: Order = "asc",
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Show the state of your transactions, or of one with its sub-batches and failures."""
    with client(server) as nearline:
        found = nearline.transactions(
            transaction_id=transaction,
            id=id,
            job_label=job_label,
            api_action=api_action or [],
            exclude_api_action=exclude_api_action or [],
            state=state or [],
            groupall=groupall,
            group=group,
            limit=limit,
            descending=descending(order),
        )
    if transaction is not None and not found:
        raise NotFound(
            f"You have no transaction {transaction} (yet).",
            "A request shows a moment after it is accepted; check the id, or add --groupall.",
        )
    if as_json:
        print_json(found[0] if transaction is not None else found)
        return
    print_table(
        "Transactions",
        ["id", "transaction", "action", "job", "holding", "state", "sub-batches", "updated"],
        (
            [
                t["id"],
                t["transaction_id"],
                t["api_action"],
                t["job_label"],
                t["holding_id"] if t["holding_id"] is not None else t["label"],
                t["state"],
                len(t["sub_records"]),
                t["last_updated"][:19],
            ]
            for t in found
        ),
    )
    if transaction is not None:
        _print_failures(found[0])


def _print_failures(tx: Transaction) -> None:
    for warning in tx["warnings"]:
        out.print(f"warning: {warning}", markup=False, highlight=False)
    for sub in tx["sub_records"]:
        for failed in sub["failed_files"]:
            out.print(
                f"failed: {failed['path']}: {failed['reason']}", markup=False, highlight=False
            )


@app.command()
@handled
def watch(
    transaction: Annotated[str, typer.Argument(help="The transaction id to follow.")],
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between polls.")] = 1.0,
    timeout: Annotated[
        float | None, typer.Option(help="Give up after this many seconds (default: never).")
    ] = None,
    groupall: GroupAll = False,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Follow a transaction until it ends, with files and bytes done, the rate and the
    time left (a line per change when not on a terminal); exit 1 if it failed."""
    with client(server) as nearline:
        final = _follow(nearline, transaction, interval, timeout, groupall, quiet=as_json)
    if as_json:
        print_json(final)
    else:
        out.print(f"{transaction}: {final['state']}", markup=False, highlight=False)
        _print_failures(final)
    if final["state"] in FAILED_STATES:
        raise typer.Exit(1)


def _follow(
    nearline: Client,
    transaction: str,
    interval: float,
    timeout: float | None,
    groupall: bool,
    quiet: bool,
) -> Transaction:
    deadline = None if timeout is None else time.monotonic() + timeout
    unseen_until = time.monotonic() + 30  # a new request shows after the projection sees it
    lines = not quiet and not err.is_terminal  # a log or a pipe: a line per change instead
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[figures]}"),
        TimeElapsedColumn(),
        console=err,
        disable=quiet or lines,
        transient=True,
    )
    rate = Rate()
    shown: tuple[object, ...] = ()
    with progress:
        task = progress.add_task(f"{transaction[:8]} waiting", total=None, figures="")
        while True:
            try:
                tx = nearline.transaction(transaction, groupall=groupall)
            except NotFound:
                if time.monotonic() > unseen_until:
                    raise
            else:
                figures = progress_of(tx)
                speed = rate.add(figures["bytes_done"]) if figures else None
                line = describe(tx, speed)
                state, _, counts = line.partition("  ")
                if figures:  # the bar is the bytes; else the sub-batches settled
                    total, completed = figures["bytes_total"], figures["bytes_done"]
                else:
                    subs = tx["sub_records"]
                    total = max(len(subs), 1)
                    completed = sum(1 for s in subs if s["state"] in FINAL_STATES)
                # A line when the state or a count moved, not for the rate alone.
                now = (state, total, completed, figures["files_done"] if figures else None)
                progress.update(
                    task,
                    description=f"{transaction[:8]} {state}",
                    total=total,
                    completed=completed,
                    figures=counts,
                )
                if lines and now != shown:
                    err.print(f"{transaction[:8]} {line}", markup=False, highlight=False)
                    shown = now
                if tx["state"] in FINAL_STATES:
                    return tx
            if deadline is not None and time.monotonic() > deadline:
                raise typer.Exit(_timed_out(transaction, timeout))
            time.sleep(interval)


def _timed_out(transaction: str, timeout: float | None) -> int:
    err.print(
        f"{transaction} did not end within {timeout} s; follow it with `nearline watch`.",
        markup=False,
    )
    return 2


@app.command()
@handled
def quota(server: Server = None, as_json: Json = False) -> None:
    """Show your quota and how much of it you use."""
    with client(server) as nearline:
        reply: dict[str, Any] = nearline.quota()
    if as_json:
        print_json(reply)
        return
    print_table("Quota", ["what", "value"], ([k, v] for k, v in reply.items()))
