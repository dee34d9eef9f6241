"""What every user command shares: the client, the options, output as tables or JSON,
and errors printed with what to do next."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from itertools import islice
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from client.library import Client, NearlineError

P = ParamSpec("P")
R = TypeVar("R")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

Server = Annotated[
    str | None,
    typer.Option(
        "--server", envvar="NEARLINE_URL", help="nearline's URL (default: where you logged in)."
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
Label = Annotated[str | None, typer.Option("--label", "-l", help="The holding's label.")]
HoldingId = Annotated[int | None, typer.Option("--holding-id", "-i", help="The holding's id.")]
Tags = Annotated[
    list[str] | None,
    typer.Option("--tag", "-t", help="key=value; repeat for several (all must match)."),
]
GroupAll = Annotated[
    bool, typer.Option("--groupall", "-A", help="Your group's holdings too (read only).")
]
Group = Annotated[str | None, typer.Option("--group", "-g", help="One of your groups.")]
Limit = Annotated[int | None, typer.Option("--limit", "-n", min=1, help="At most this many.")]
Order = Annotated[str, typer.Option("--order", help="asc or desc.")]
TransactionFilter = Annotated[
    str | None, typer.Option("--transaction", "-T", help="Only holdings of this transaction.")
]
JobLabel = Annotated[str | None, typer.Option("--job-label", "-j", help="A label for the job.")]


make_client: Callable[[str | None], Client] = Client
"""How commands connect; tests replace it to reach an in-process API."""


def client(server: str | None) -> Client:
    return make_client(server)


def handled(command: Callable[P, R]) -> Callable[P, R]:
    """Print a NearlineError as its message and hint on stderr, and exit 1."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except NearlineError as error:
            # Text, not markup: messages quote regexes and paths with brackets in them.
            err.print(Text.assemble(("Error: ", "red"), error.message), highlight=False)
            if error.hint:
                err.print(error.hint, markup=False, highlight=False)
            raise typer.Exit(error.exit_code) from None

    return run


def parse_tags(given: Iterable[str] | None) -> dict[str, str]:
    """``key=value`` options as a dict; a malformed one is a usage error. The first ``=``
    ends the key unless a backslash escapes it (``a\\=b=c`` is key ``a=b``); ``\\\\`` is
    a backslash."""
    tags: dict[str, str] = {}
    for item in given or ():
        key, sep, value = _key_value(item)
        if not sep or not key:
            raise typer.BadParameter(
                f"{item!r} is not key=value (write \\= for an = in the key)", param_hint="--tag"
            )
        tags[key] = value
    return tags


def _key_value(item: str) -> tuple[str, str, str]:
    key: list[str] = []
    i = 0
    while i < len(item):
        if item[i] == "\\" and item[i + 1 : i + 2] in ("=", "\\"):
            key.append(item[i + 1])
            i += 2
        elif item[i] == "=":
            return "".join(key), "=", item[i + 1 :]
        else:
            key.append(item[i])
            i += 1
    return "".join(key), "", ""


def descending(order: str) -> bool:
    if order not in ("asc", "desc"):
        raise typer.BadParameter("asc or desc", param_hint="--order")
    return order == "desc"


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


TABLE_ROWS = 1000
"""Listings longer than this are printed as lines, as they arrive."""


def print_json_lines(batches: Iterable[list[bytes]]) -> None:
    """A JSON array of items that are JSON already (UTF-8, one line each), written as
    they come, a batch at a time: memory stays flat however long it is (D212)."""
    batches = iter(batches)
    first = next(batches, None)  # a listing refused writes nothing
    sys.stdout.flush()
    out = sys.stdout.buffer
    out.write(b"[")
    if first is not None:
        out.write(b"\n  " + b",\n  ".join(first))
        for lines in batches:
            out.write(b",\n  " + b",\n  ".join(lines))
    out.write(b"\n]\n")
    out.flush()


def print_lines(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A header, then one tab-separated line per row, written a thousand at a time."""
    write = sys.stdout.write
    write("\t".join(columns) + "\n")
    rows = iter(rows)
    while batch := list(islice(rows, 1000)):
        write("".join([_line(row) for row in batch]))
    sys.stdout.flush()


def _line(row: Sequence[Any]) -> str:
    return "\t".join(["" if v is None else str(v) for v in row]) + "\n"


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
        count += 1
    if count:
        out.print(table, markup=False, highlight=False)
    else:
        out.print(f"No {title.lower()} found.", markup=False, highlight=False)


def print_accepted(reply: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(reply)
        return
    out.print(
        f"{reply['api_action']} accepted: transaction {reply['transaction_id']} "
        f"(job {reply['job_label']}).\nFollow it with: nearline watch {reply['transaction_id']}",
        markup=False,
        highlight=False,
    )


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
