"""``put``, ``putlist``, ``get``, ``getlist``, ``del``, ``dellist``: commands that record
a request and print its transaction id (follow it with ``nearline watch``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from client.cli import app
from client.cli.common import (
    Group,
    GroupAll,
    HoldingId,
    JobLabel,
    Json,
    Label,
    Server,
    Tags,
    client,
    handled,
    parse_tags,
    print_accepted,
)
from client.library.client import whole_deletion
from client.library.paths import absolute, read_path_list

Paths = Annotated[list[str], typer.Argument(help="Files or folders (folders are walked).")]
SomePaths = Annotated[list[str] | None, typer.Argument(help="Paths as they were put.")]
ListFile = Annotated[Path, typer.Argument(help="A file of paths, one per line.")]
Regex = Annotated[
    str | None, typer.Option("--regex", "-r", help="Every file whose path matches this.")
]
Target = Annotated[
    str | None, typer.Option("--target", help="Folder to write into (default: in place).")
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing files.")]


def _put(
    server: str | None,
    paths: Sequence[str | bytes],
    label: str | None,
    holding_id: int | None,
    tag: list[str] | None,
    job_label: str | None,
    group: str | None,
    as_json: bool,
) -> None:
    with client(server) as nearline:
        reply = nearline.put(
            [absolute(p) for p in paths],
            label=label,
            holding_id=holding_id,
            tags=parse_tags(tag),
            job_label=job_label,
            group=group,
        )
    print_accepted(dict(reply), as_json)


@app.command()
@handled
def put(
    paths: Paths,
    label: Label = None,
    holding_id: HoldingId = None,
    tag: Tags = None,
    job_label: JobLabel = None,
    group: Group = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Put files into a holding (a new label makes a new holding)."""
    _put(server, paths, label, holding_id, tag, job_label, group, as_json)


@app.command()
@handled
def putlist(
    listing: ListFile,
    label: Label = None,
    holding_id: HoldingId = None,
    tag: Tags = None,
    job_label: JobLabel = None,
    group: Group = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Put the files named in a list file into a holding."""
    _put(server, _listed(listing), label, holding_id, tag, job_label, group, as_json)


def _get(
    server: str | None,
    paths: Sequence[str | bytes],
    regex: str | None,
    label: str | None,
    holding_id: int | None,
    tag: list[str] | None,
    target: str | None,
    overwrite: bool,
    groupall: bool,
    job_label: str | None,
    group: str | None,
    as_json: bool,
) -> None:
    _need_subject(paths, regex)
    with client(server) as nearline:
        reply = nearline.get(
            [absolute(p) for p in paths],
            regex=regex,
            label=label,
            holding_id=holding_id,
            tags=parse_tags(tag),
            target=absolute(target) if target else None,
            overwrite=overwrite,
            groupall=groupall,
            job_label=job_label,
            group=group,
        )
    print_accepted(dict(reply), as_json)


@app.command()
@handled
def get(
    paths: SomePaths = None,
    regex: Regex = None,
    label: Label = None,
    holding_id: HoldingId = None,
    tag: Tags = None,
    target: Target = None,
    overwrite: Overwrite = False,
    groupall: GroupAll = False,
    job_label: JobLabel = None,
    group: Group = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Get files back onto disk: paths as they were put, or every match of --regex."""
    _get(
        server,
        paths or [],
        regex,
        label,
        holding_id,
        tag,
        target,
        overwrite,
        groupall,
        job_label,
        group,
        as_json,
    )


@app.command()
@handled
def getlist(
    listing: ListFile,
    label: Label = None,
    holding_id: HoldingId = None,
    tag: Tags = None,
    target: Target = None,
    overwrite: Overwrite = False,
    groupall: GroupAll = False,
    job_label: JobLabel = None,
    group: Group = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Get the files named in a list file back onto disk."""
    paths = _listed(listing)
    _get(
        server,
        paths,
        None,
        label,
        holding_id,
        tag,
        target,
        overwrite,
        groupall,
        job_label,
        group,
        as_json,
    )


def _delete(
    server: str | None,
    paths: Sequence[str | bytes],
    regex: str | None,
    label: str | None,
    holding_id: int | None,
    tag: list[str] | None,
    job_label: str | None,
    group: str | None,
    as_json: bool,
    whole_holding: bool = False,
) -> None:
    unclear = whole_deletion(paths, regex, label, holding_id, whole_holding)
    if unclear is not None:
        raise typer.BadParameter(unclear + _DELETE_HINT)
    with client(server) as nearline:
        reply = nearline.delete(
            [absolute(p) for p in paths],
            regex=regex,
            label=label,
            holding_id=holding_id,
            tags=parse_tags(tag),
            whole_holdings=whole_holding,
            job_label=job_label,
            group=group,
        )
    print_accepted(dict(reply), as_json)


_DELETE_HINT = (
    " (nearline del PATH... | --regex RE | --label L --whole-holding | "
    "--holding-id N --whole-holding)"
)
WholeHolding = Annotated[
    bool,
    typer.Option(
        "--whole-holding",
        help="Delete the holding named by --label or --holding-id whole: every file, and "
        "the holding itself (its label is free again). Takes no paths and no --regex.",
    ),
]


@app.command("del")
@handled
def delete(
    paths: SomePaths = None,
    regex: Regex = None,
    label: Label = None,
    holding_id: HoldingId = None,
    tag: Tags = None,
    whole_holding: WholeHolding = False,
    job_label: JobLabel = None,
    group: Group = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Delete files from your holdings: paths as they were put, or every match of
    --regex; or a whole holding, with --whole-holding and its --label or --holding-id."""
    _delete(
        server,
        paths or [],
        regex,
        label,
        holding_id,
        tag,
        job_label,
        group,
        as_json,
        whole_holding=whole_holding,
    )


@app.command()
@handled
def dellist(
    listing: ListFile,
    label: Label = None,
    holding_id: HoldingId = None,
    tag: Tags = None,
    job_label: JobLabel = None,
    group: Group = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Delete the files named in a list file from your holdings."""
    _delete(server, _listed(listing), None, label, holding_id, tag, job_label, group, as_json)


def _listed(listing: Path) -> list[bytes]:
    try:
        paths = read_path_list(listing)
    except OSError as error:
        raise typer.BadParameter(f"cannot read {listing}: {error.strerror}") from None
    if not paths:
        raise typer.BadParameter(f"{listing} names no paths")
    return paths


def _need_subject(paths: Sequence[str | bytes], regex: str | None) -> None:
    if not paths and regex is None:
        raise typer.BadParameter("give paths, or --regex (use '.' for every file)")
