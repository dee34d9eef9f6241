"""``list``, ``find`` and ``meta``: your holdings and their files."""

from __future__ import annotations

from itertools import chain, islice
from typing import Annotated

import typer

from client.cli import app
from client.cli.common import (
    TABLE_ROWS,
    Group,
    GroupAll,
    HoldingId,
    Json,
    Label,
    Limit,
    Order,
    Server,
    Tags,
    TransactionFilter,
    client,
    descending,
    handled,
    human_size,
    out,
    parse_tags,
    print_json,
    print_json_lines,
    print_lines,
    print_table,
)
from client.library import NotFound
from client.library.models import FileEntry, Location


@app.command("list")
@handled
def list_holdings(
    label: Label = None,
    regex: Annotated[
        bool, typer.Option("--regex", "-r", help="--label is a regular expression.")
    ] = False,
    holding_id: HoldingId = None,
    tag: Tags = None,
    transaction: TransactionFilter = None,
    groupall: GroupAll = False,
    group: Group = None,
    limit: Limit = None,
    order: Order = "asc",
    server: Server = None,
    as_json: Json = False,
) -> None:
    """List holdings with their tags."""
    with client(server) as nearline:
        holdings = nearline.holdings(
            label=label,
            label_regex=regex,
            holding_id=holding_id,
            transaction_id=transaction,
            tags=parse_tags(tag),
            groupall=groupall,
            group=group,
            limit=limit,
            descending=descending(order),
        )
    if as_json:
        print_json(holdings)
        return
    print_table(
        "Holdings",
        ["id", "label", "user", "group", "tags", "transactions", "created"],
        (
            [
                h["id"],
                h["label"],
                h["user"],
                h["group"],
                ", ".join(f"{k}={v}" for k, v in h["tags"].items()),
                len(h["transactions"]),
                h["created_at"][:19],
            ]
            for h in holdings
        ),
    )


@app.command()
@handled
def find(
    regex: Annotated[
        str | None, typer.Option("--regex", "-r", help="Regular expression on the path.")
    ] = None,
    path: Annotated[str | None, typer.Option("--path", "-p", help="Exactly this path.")] = None,
    label: Label = None,
    holding_id: HoldingId = None,
    tag: Tags = None,
    transaction: TransactionFilter = None,
    groupall: GroupAll = False,
    group: Group = None,
    limit: Limit = None,
    order: Order = "asc",
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Find files in your holdings, with their size, checksums and where they are. Lists
    every match unless --limit says otherwise, printed as the server sends them."""
    filters = {
        "regex": regex, "path": path, "label": label, "holding_id": holding_id,
        "transaction_id": transaction, "tags": parse_tags(tag), "groupall": groupall,
        "group": group, "limit": limit, "descending": descending(order),
    }  # fmt: skip
    with client(server) as nearline:
        if as_json:  # the server's JSON as it is: nothing to parse, nothing to encode
            print_json_lines(nearline.file_lines(**filters))
            return
        columns = ["holding", "path", "type", "size", "adler32", "where"]
        rows = (_file_row(f) for f in nearline.each_file(**filters))
        first = list(islice(rows, TABLE_ROWS + 1))
        if len(first) <= TABLE_ROWS:
            print_table("Files", columns, first)
            return
        # Too many for a table, whose width needs every row first: one line per file,
        # tab-separated, as they arrive.
        print_lines(columns, chain(first, rows))


def _file_row(f: FileEntry) -> list[str]:
    return [
        f"{f['holding_id']} {f['label']}",
        f["path"],
        f["path_type"].lower(),
        human_size(f["size"]) if f["path_type"] == "FILE" else "",
        f["checksums"].get("ADLER32", ""),
        ", ".join([_where(loc) for loc in f["locations"]]),
    ]


_WHERE = {"OBJECT_STORAGE": "cache", "TAPE": "tape"}


def _where(location: Location) -> str:
    kind = location["storage_type"]
    return _WHERE.get(kind) or kind.lower()


@app.command()
@handled
def meta(
    label: Label = None,
    holding_id: HoldingId = None,
    new_label: Annotated[str | None, typer.Option("--new-label", help="Relabel it.")] = None,
    add_tag: Annotated[
        list[str] | None, typer.Option("--add-tag", help="key=value; repeat for several.")
    ] = None,
    remove_tag: Annotated[
        list[str] | None, typer.Option("--remove-tag", help="A tag key; repeat for several.")
    ] = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Change one of your holdings' label or tags (select it by --label or --holding-id)."""
    if (label is None) == (holding_id is None):
        raise typer.BadParameter("select the holding with --label or --holding-id (one of them)")
    with client(server) as nearline:
        if holding_id is None:
            found = nearline.holdings(label=label)
            if not found:
                raise NotFound(
                    f"You have no holding labelled {label!r}.", "List yours with `nearline list`."
                )
            holding_id = found[0]["id"]
        reply = nearline.meta(
            holding_id,
            new_label=new_label,
            add_tags=parse_tags(add_tag),
            remove_tags=remove_tag or [],
        )
    if as_json:
        print_json(reply)
        return
    for change in reply["changes"]:
        tags = ", ".join(f"{k}={v}" for k, v in change["new_tags"].items())
        out.print(
            f"Holding {change['holding']['id']}: label {change['new_label']!r}, tags {{{tags}}} "
            f"(transaction {reply['transaction_id']}).",
            markup=False,
            highlight=False,
        )
