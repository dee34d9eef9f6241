"""The command layer: PUT, GET, DELETE and META requests, validated and recorded as
request events. Both HTTP surfaces call these; the work itself happens asynchronously
in the processors, which decide against the log (never against a projection).

One module of about 420 lines, a function per request and the validators they share:
it is the one place the API's events are built (tests/unit/layout checks that), so it
is kept whole rather than split by verb."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from api.paths import path_from_text
from api.queries.holdings import Holding, list_holdings
from domain.access import Scope
from events.base import event_id_for
from events.carts import (
    CartDeleteRequested,
    CartDownloaded,
    CartEntry,
    CartOfFilesRequested,
    CartRequested,
)
from events.requests import (
    DeleteRequested,
    GetRequested,
    MetaRequested,
    PutRequested,
    StageRequested,
    UploadRequested,
)
from events.scicat import JOB_TYPES as SCICAT_JOB_TYPES
from events.scicat import ScicatJobReceived
from events.topics import CARTS, SCICAT
from nearline.requests import RequestLog, request_envelope
from projections.queries.filters import HoldingSelector, checked_regex, is_plain_text

MAX_LABEL = 1024
MAX_TAG_KEY = 256
MAX_TAG_VALUE = 1024
MAX_JOB_LABEL = 256


GivenPath = str | bytes
"""A path as a surface received it: text (``os.fsencode``d here) or bytes."""


class CommandRejected(ValueError):
    """A request that cannot be recorded as given; ``field`` names what to change."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Options:
    """What every command may carry besides its subject."""

    job_label: str | None = None
    transaction_id: str | None = None


def put(
    log: RequestLog,
    scope: Scope,
    given: Sequence[GivenPath],
    label: str | None = None,
    holding_id: int | None = None,
    tags: Mapping[str, str] | None = None,
    options: Options = Options(),
) -> PutRequested:
    """Record a PUT of files (and directories, walked) into a holding."""
    paths = _paths(given, required=True)
    return log.put(
        user=scope.user,
        group=_group(scope),
        paths=paths,
        label=_label(label, "label"),
        holding_id=_holding_id(holding_id),
        tags=_tags(tags, "tags"),
        api_action="put" if len(paths) == 1 else "putlist",
        **_options(options),
    )


def get(
    log: RequestLog,
    scope: Scope,
    given: Sequence[GivenPath],
    selector: HoldingSelector,
    regex: str | None = None,
    target: GivenPath | None = None,
    overwrite: bool = False,
    options: Options = Options(),
) -> GetRequested:
    """Record a GET of files (the newest version, or the selected holding's) to disk."""
    paths = _subject(given, regex)
    return log.get(
        user=scope.user,
        group=_group(scope),
        paths=paths,
        regex=regex,
        label=_label(selector.label, "label"),
        holding_id=_holding_id(selector.holding_id),
        tags=_tags(selector.tags, "tags"),
        target=_paths([target], required=True, field="target")[0] if target else None,
        overwrite=overwrite,
        groupall=scope.groupall,
        api_action="get" if len(paths) <= 1 else "getlist",
        **_options(options),
    )


def stage(
    log: RequestLog,
    scope: Scope,
    given: Sequence[GivenPath],
    selector: HoldingSelector,
    regex: str | None = None,
    options: Options = Options(),
) -> StageRequested:
    """Record a STAGE: bring files (the newest version, or the selected holding's) from
    tape into the cache, without writing them anywhere."""
    paths = _subject(given, regex)
    return log.stage(
        user=scope.user,
        group=_group(scope),
        paths=paths,
        regex=regex,
        label=_label(selector.label, "label"),
        holding_id=_holding_id(selector.holding_id),
        tags=_tags(selector.tags, "tags"),
        groupall=scope.groupall,
        **_options(options),
    )


def delete(
    log: RequestLog,
    scope: Scope,
    given: Sequence[GivenPath],
    selector: HoldingSelector,
    regex: str | None = None,
    options: Options = Options(),
) -> DeleteRequested:
    """Record a DELETE of files from the caller's own holdings: the paths given, the
    files a regex matches, or (neither given) the whole holdings the selector picks."""
    if not given and regex is None:
        if not (selector.label is not None or selector.holding_id is not None or selector.tags):
            raise CommandRejected(
                "Give paths, a regular expression, or the holding (label, id or tags) to "
                "delete whole.",
                "filelist",
            )
        paths: list[bytes] = []
    else:
        paths = _subject(given, regex)
    return log.delete(
        user=scope.user,
        group=_group(scope),
        paths=paths,
        regex=regex,
        label=_label(selector.label, "label"),
        holding_id=_holding_id(selector.holding_id),
        tags=_tags(selector.tags, "tags"),
        api_action="del" if len(paths) <= 1 else "dellist",
        **_options(options),
    )


@dataclass(frozen=True)
class MetaChange:
    """One holding a META request changes, as it is and as it will be."""

    holding: Holding
    new_label: str
    new_tags: dict[str, str]


def meta(
    log: RequestLog,
    conn: Connection,
    scope: Scope,
    selector: HoldingSelector,
    new_label: str | None = None,
    add_tags: Mapping[str, str] | None = None,
    remove_tags: Sequence[str] = (),
    options: Options = Options(),
) -> tuple[MetaRequested, list[MetaChange]]:
    """Record a change of label or tags of the caller's own selected holdings, and say
    what it will change.

    The holdings are looked up in the catalog the caller can read, so that a selector
    that picks nothing (or picks several holdings for one new label) is refused at once;
    the decider makes the change and is the judge of conflicts that arise meanwhile.
    """
    if selector == HoldingSelector():
        raise CommandRejected("Select the holding to change by its label, id or tags.", "query")
    new_label = _label(new_label, "new_label")
    add = _tags(add_tags, "new_tag")
    remove = [k for k in remove_tags if k]
    if new_label is None and not add and not remove:
        raise CommandRejected(
            "Nothing to change: give a new label, tags to add or tag keys to remove.", "body"
        )
    own = Scope(scope.user, scope.group)
    holdings = list_holdings(conn, own, selector)
    if not holdings:
        raise CommandRejected(
            "No holding of yours matches the label, id and tags given; list your holdings "
            "to check them (a holding made moments ago may take a second to appear).",
            "holding",
        )
    if new_label is not None and len(holdings) > 1:
        raise CommandRejected(
            f"{len(holdings)} holdings match, and labels are unique: select one holding "
            "(by its id) to relabel.",
            "new_label",
        )
    if new_label is not None:
        taken = list_holdings(conn, own, HoldingSelector(new_label))
        if taken and taken[0].id != holdings[0].id:
            raise CommandRejected(
                f"The label {new_label!r} is taken by your holding {taken[0].id}: choose "
                "another label.",
                "new_label",
            )
    event = log.meta(
        user=scope.user,
        group=_group(scope),
        label=selector.label,
        holding_id=selector.holding_id,
        tags=dict(selector.tags),
        new_label=new_label,
        add_tags=add,
        remove_tags=remove,
        **_options(options),
    )
    changes = [
        MetaChange(
            holding=h,
            new_label=new_label if new_label is not None else h.label,
            new_tags={k: v for k, v in {**h.tags, **add}.items() if k not in remove},
        )
        for h in holdings
    ]
    return event, changes


def upload(
    log: RequestLog,
    scope: Scope,
    label: str,
    path: GivenPath,
    stored: Uploaded,
    transaction_id: str,
) -> UploadRequested:
    """Record bytes the API already stored in the cache (``stored``, under a key of
    ``transaction_id``) as a file to catalog at ``path`` in the caller's holding
    ``label``, made on first use. The decider refuses a path the holding has."""
    return log.record(
        UploadRequested(
            **request_envelope(scope.user, _group(scope), transaction_id),
            label=_label(label, "label") or "",
            path=_paths([path], required=True)[0],
            size=stored.size,
            mtime_ns=stored.mtime_ns,
            object_key=stored.object_key,
            adler32=stored.adler32,
            sha256=stored.sha256,
        )
    )


@dataclass(frozen=True)
class Uploaded:
    """Bytes stored in the cache by the API itself, with their checksums."""

    object_key: str
    size: int
    mtime_ns: int
    adler32: str
    sha256: str


def cart(
    log: RequestLog,
    scope: Scope,
    given: Sequence[GivenPath],
    selector: HoldingSelector,
    regex: str | None,
    cart_id: str,
    max_files: int,
) -> CartRequested:
    """Record a request for a cart of the files FIND shows for these filters (paths, a
    regex, or neither: every file the holding filters select) on the carts topic."""
    if regex is not None and given:
        raise CommandRejected("Give paths or a regular expression, not both.", "regex")
    if regex is not None:
        try:
            checked_regex(regex)
        except ValueError as error:
            raise CommandRejected(str(error), "regex") from None
    event = CartRequested(
        event_id=event_id_for(cart_id, "cart", "requested"),
        transaction_id=cart_id,
        user=scope.user,
        group=_group(scope),
        cause_id=None,
        occurred_at=int(time.time() * 1000),
        cart_id=cart_id,
        paths=_paths(given, required=False, field="paths"),
        regex=regex,
        label=_label(selector.label, "label"),
        holding_id=_holding_id(selector.holding_id),
        tags=_tags(selector.tags, "tags"),
        groupall=scope.groupall,
        max_files=max_files,
    )
    log.record(event, CARTS)
    return event


@dataclass(frozen=True)
class NamedCart:
    """A cart whose client names its files: its own name for the cart, and where the
    files are kept (the owner's holding with this label)."""

    client_uid: str
    owner: str
    label: str
    bundle: bool


def cart_of_files(
    log: RequestLog,
    user: str,
    group: str,
    cart: NamedCart,
    files: Sequence[CartEntry],
    max_files: int,
) -> CartOfFilesRequested:
    """Record a request for a cart of the files a client named, each with its name in the
    tar and its expected hash (checked by the caller), on the carts topic."""
    cart_id = str(uuid.uuid4())
    event = CartOfFilesRequested(
        event_id=event_id_for(cart_id, "cart", "requested"),
        transaction_id=cart_id,
        user=user,
        group=group,
        cause_id=None,
        occurred_at=int(time.time() * 1000),
        cart_id=cart_id,
        client_uid=cart.client_uid,
        owner=cart.owner,
        label=cart.label,
        files=list(files),
        bundle=cart.bundle,
        max_files=max_files,
    )
    log.record(event, CARTS)
    return event


def cart_downloaded(log: RequestLog, user: str, group: str, cart_id: str) -> None:
    """Record that the owner downloaded a cart (its files' access times move on)."""
    now = int(time.time() * 1000)
    log.record(
        CartDownloaded(
            event_id=event_id_for(cart_id, "cart", "downloaded", str(now)),
            transaction_id=cart_id,
            user=user,
            group=group,
            cause_id=None,
            occurred_at=now,
            cart_id=cart_id,
        ),
        CARTS,
    )


def delete_cart(log: RequestLog, user: str, group: str, cart_id: str) -> None:
    """Record the owner's request to delete a cart, whatever its state."""
    log.record(
        CartDeleteRequested(
            event_id=event_id_for(cart_id, "cart", "delete"),
            transaction_id=cart_id,
            user=user,
            group=group,
            cause_id=None,
            occurred_at=int(time.time() * 1000),
            cart_id=cart_id,
        ),
        CARTS,
    )


def _group(scope: Scope) -> str:
    if scope.group is None:
        raise CommandRejected(
            "Your account belongs to no group, and every holding belongs to one; ask your "
            "administrator to add you to a group.",
            "group",
        )
    return scope.group


def _subject(given: Sequence[GivenPath], regex: str | None) -> list[bytes]:
    """The paths of a GET or DELETE, which names paths or a regex (never both)."""
    if regex is not None:
        if given:
            raise CommandRejected("Give paths or a regular expression, not both.", "regex")
        try:
            checked_regex(regex)
        except ValueError as error:
            raise CommandRejected(str(error), "regex") from None
        return []
    return _paths(given, required=True)


def _paths(given: Sequence[GivenPath], required: bool, field: str = "filelist") -> list[bytes]:
    """The paths given, as bytes. A path that cannot be one (relative, a NUL byte) is
    kept: the worker that meets it fails that path alone, with the reason, and the rest
    go on. Only when no path can be one is the request refused, at once."""
    if required and not given:
        raise CommandRejected("Give at least one path.", field)
    paths = [_encoded(item, field) for item in given]
    reasons = [reason for reason in map(_unusable, paths) if reason is not None]
    if paths and len(reasons) == len(paths):
        raise CommandRejected(reasons[0], field)
    return paths


def _encoded(item: GivenPath, field: str) -> bytes:
    try:
        return item if isinstance(item, bytes) else path_from_text(item)
    except UnicodeEncodeError:
        raise CommandRejected(
            f"{item!r} cannot be a path: it holds characters that are not text.", field
        ) from None


def _unusable(path: bytes) -> str | None:
    """Why ``path`` cannot name a file, or None."""
    if b"\0" in path:
        return "A path cannot contain a NUL byte."
    if not path.startswith(b"/"):
        return (
            f"{path.decode('utf-8', 'backslashreplace')!r} is not an absolute path; "
            "give full paths, starting with /."
        )
    return None


def _label(label: str | None, field: str) -> str | None:
    if label is None:
        return None
    control = any(ord(c) < 32 or ord(c) == 127 for c in label)
    if not label.strip() or len(label) > MAX_LABEL or not is_plain_text(label) or control:
        raise CommandRejected(
            f"A label is text of 1 to {MAX_LABEL} characters, not all blank, without "
            "control characters.",
            field,
        )
    return label


def _holding_id(holding_id: int | None) -> int | None:
    if holding_id is not None and holding_id < 1:
        raise CommandRejected(
            f"Holding ids are positive; {holding_id} is none. List your holdings to find the id.",
            "holding_id",
        )
    return holding_id


def _tags(tags: Mapping[str, str] | None, field: str) -> dict[str, str]:
    for key, value in (tags or {}).items():
        fits = 0 < len(key) <= MAX_TAG_KEY and len(value) <= MAX_TAG_VALUE
        if not fits or not is_plain_text(key + value):
            raise CommandRejected(
                f"Tag keys are text of 1 to {MAX_TAG_KEY} characters and values of up to "
                f"{MAX_TAG_VALUE}; {key[:40]!r} does not fit.",
                field,
            )
    return dict(tags or {})


def _options(options: Options) -> dict[str, str | None]:
    job_label = options.job_label
    if job_label is not None and (len(job_label) > MAX_JOB_LABEL or not is_plain_text(job_label)):
        raise CommandRejected(
            f"A job label is text of at most {MAX_JOB_LABEL} characters.", "job_label"
        )
    if options.transaction_id is not None:
        try:
            uuid.UUID(options.transaction_id)
        except ValueError:
            raise CommandRejected(
                f"{options.transaction_id!r} is not a UUID; leave transaction_id out and "
                "one is made for you.",
                "transaction_id",
            ) from None
    return {"job_label": options.job_label or None, "transaction_id": options.transaction_id}


MAX_SCICAT_JOB_ID = 256


def scicat_job(
    log: RequestLog, account: str, group: str, job_id: str, job_type: str, via: str
) -> ScicatJobReceived:
    """Record a job SciCat handed over (archive or retrieve), keyed by its id on the
    SciCat topic; the same job handed over twice is one event (its id follows)."""
    if not job_id or len(job_id) > MAX_SCICAT_JOB_ID or not is_plain_text(job_id):
        raise CommandRejected(
            f"A SciCat job id is text of 1 to {MAX_SCICAT_JOB_ID} characters.", "id"
        )
    if job_type not in SCICAT_JOB_TYPES:
        raise CommandRejected(
            f"nearline does SciCat jobs of type {' or '.join(SCICAT_JOB_TYPES)}, not {job_type!r}.",
            "type",
        )
    event = ScicatJobReceived(
        event_id=event_id_for(job_id, "scicat", "received"),
        transaction_id=job_id,
        user=account,
        group=group,
        cause_id=None,
        occurred_at=int(time.time() * 1000),
        job_id=job_id,
        job_type=job_type,
        via=via,
    )
    log.record(event, SCICAT, key=job_id)
    return event
