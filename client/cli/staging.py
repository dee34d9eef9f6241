"""``stage``: bring files from tape into the cache without getting them."""

from __future__ import annotations

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
from client.cli.transfers import Regex, SomePaths, _need_subject
from client.library.paths import absolute


@app.command()
@handled
def stage(
    paths: SomePaths = None,
    regex: Regex = None,
    label: Label = None,
    holding_id: HoldingId = None,
    tag: Tags = None,
    groupall: GroupAll = False,
    job_label: JobLabel = None,
    group: Group = None,
    server: Server = None,
    as_json: Json = False,
) -> None:
    """Bring files from tape into the cache (paths as they were put, or every match of
    --regex), so that a later get or cart need not wait for the tape."""
    _need_subject(paths or [], regex)
    with client(server) as nearline:
        reply = nearline.stage(
            [absolute(p) for p in paths or []],
            regex=regex,
            label=label,
            holding_id=holding_id,
            tags=parse_tags(tag),
            groupall=groupall,
            job_label=job_label,
            group=group,
        )
    print_accepted(dict(reply), as_json)
