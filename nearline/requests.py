"""Recording users' requests: each validated request becomes one event on
``nearline.requests``, keyed by user, and is acknowledged only once the log has it.

Nothing past ``limits.max_paths`` paths or ``limits.max_body_bytes`` encoded bytes is
sent (``RequestTooLarge``), and a caller may add its own check of each event (the API
checks that a transaction id is not another user's)."""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, Message

from events.base import Event, event_id_for
from events.codec import encode
from events.requests import (
    DeleteAction,
    DeleteRequested,
    GetAction,
    GetRequested,
    MetaRequested,
    PutAction,
    PutRequested,
    StageRequested,
)
from events.topics import REQUESTS
from nearline import bus, patterns
from nearline.observe import logs
from nearline.settings import Settings

log = logging.getLogger("nearline.requests")

FsPath = str | bytes
"""A path as given: text, or the bytes of a POSIX path that need not be UTF-8."""


class RequestNotRecorded(RuntimeError):
    """The log did not take the request (the broker is unreachable); nothing happened."""


class RequestTooLarge(ValueError):
    """A request past the limits; nothing was recorded. ``field`` names what to change."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


E = TypeVar("E", bound=Event)

Check = Callable[[Event], None]
"""A caller's check of an event before it is recorded; it raises to refuse it."""


class RequestLog:
    """Writes request events; safe to share between threads."""

    def __init__(self, settings: Settings, timeout: float = 15.0) -> None:
        self.producer = bus.producer(settings)
        self.timeout = timeout
        self.limits = settings.limits
        self.check: Check | None = None
        self._lock = threading.Lock()

    def checked(self, check: Check) -> RequestLog:
        """This log (the same producer) with ``check`` run on each event before it is
        recorded: one per HTTP request, which knows its caller."""
        log = copy.copy(self)
        log.check = check
        return log

    def record(self, event: E, topic: str = REQUESTS, key: str | None = None) -> E:
        """Append ``event`` to ``topic`` (the requests topic unless another, such as the
        carts topic, takes it), keyed by user (or ``key``, on a topic keyed otherwise),
        and wait until the broker has it; returns it."""
        logs.note_transaction(event.transaction_id)
        paths = getattr(event, "paths", ())
        if len(paths) > self.limits.max_paths:
            raise RequestTooLarge(
                f"This request names {len(paths)} paths and at most "
                f"{self.limits.max_paths} are taken (limits.max_paths): split it into "
                "several requests, or name the folder that holds them (folders are walked).",
                "paths",
            )
        if self.check is not None:
            self.check(event)
        value = encode(event)
        if len(value) > self.limits.max_body_bytes:
            raise RequestTooLarge(
                f"This request is {len(value)} bytes as an event, over the limit of "
                f"{self.limits.max_body_bytes} (limits.max_body_bytes): split it into "
                "several requests.",
                "paths",
            )
        if key is None:
            self._send(event, topic, value)
        else:
            self._send(event, topic, value, key)
        log.info("recorded %s", event.schema_name.rsplit(".", 1)[-1])
        return event

    def _send(self, event: Event, topic: str, value: bytes, key: str | None = None) -> None:
        done = threading.Event()
        errors: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                errors.append(error)
            done.set()

        try:
            with self._lock:
                self.producer.produce(
                    topic,
                    key=(key if key is not None else event.user).encode(),
                    value=value,
                    on_delivery=delivered,
                )
        except (KafkaException, BufferError) as error:
            raise RequestNotRecorded(f"the request could not be recorded: {error}") from None
        deadline = time.monotonic() + self.timeout
        while not done.is_set() and time.monotonic() < deadline:
            self.producer.poll(0.05)
        if errors or not done.is_set():
            reason = errors[0].str() if errors else "no answer from the broker"
            raise RequestNotRecorded(f"the request could not be recorded: {reason}")

    def put(
        self,
        *,
        user: str,
        group: str,
        paths: Iterable[FsPath] = (),
        path_list_file: FsPath | None = None,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        job_label: str | None = None,
        transaction_id: str | None = None,
        api_action: PutAction | None = None,
    ) -> PutRequested:
        """Record a PUT; the work happens asynchronously. Returns the recorded event."""
        return self.record(
            PutRequested(
                **request_envelope(user, group, transaction_id, job_label),
                label=label,
                holding_id=holding_id,
                tags=dict(tags or {}),
                paths=[os.fsencode(p) for p in paths],
                path_list_file=os.fsencode(path_list_file) if path_list_file else None,
                api_action=api_action or ("putlist" if path_list_file else "put"),
            )
        )

    def get(
        self,
        *,
        user: str,
        group: str,
        paths: Iterable[FsPath] = (),
        regex: str | None = None,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        target: FsPath | None = None,
        overwrite: bool = False,
        groupall: bool = False,
        job_label: str | None = None,
        transaction_id: str | None = None,
        api_action: GetAction = "get",
    ) -> GetRequested:
        """Record a GET (paths, or every file a regex matches); returns the recorded event."""
        return self.record(
            GetRequested(
                **request_envelope(user, group, transaction_id, job_label),
                **_selection(paths, regex, label, holding_id, tags),
                target=os.fsencode(target) if target else None,
                overwrite=overwrite,
                api_action=api_action,
                groupall=groupall,
            )
        )

    def stage(
        self,
        *,
        user: str,
        group: str,
        paths: Iterable[FsPath] = (),
        regex: str | None = None,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        groupall: bool = False,
        job_label: str | None = None,
        transaction_id: str | None = None,
    ) -> StageRequested:
        """Record a STAGE: bring the files (paths, or a regex's matches) from tape into the
        cache, without getting them; returns the recorded event."""
        return self.record(
            StageRequested(
                **request_envelope(user, group, transaction_id, job_label),
                **_selection(paths, regex, label, holding_id, tags),
                groupall=groupall,
            )
        )

    def delete(
        self,
        *,
        user: str,
        group: str,
        paths: Iterable[FsPath] = (),
        regex: str | None = None,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        job_label: str | None = None,
        transaction_id: str | None = None,
        api_action: DeleteAction = "del",
    ) -> DeleteRequested:
        """Record a DELETE of files from the user's holdings; returns the recorded event."""
        return self.record(
            DeleteRequested(
                **request_envelope(user, group, transaction_id, job_label),
                **_selection(paths, regex, label, holding_id, tags),
                api_action=api_action,
            )
        )

    def meta(
        self,
        *,
        user: str,
        group: str,
        label: str | None = None,
        holding_id: int | None = None,
        tags: Mapping[str, str] | None = None,
        new_label: str | None = None,
        add_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
        job_label: str | None = None,
        transaction_id: str | None = None,
    ) -> MetaRequested:
        """Record a change of label or tags of the selected holdings; returns the event."""
        return self.record(
            MetaRequested(
                **request_envelope(user, group, transaction_id, job_label),
                label=label,
                holding_id=holding_id,
                tags=dict(tags or {}),
                new_label=new_label,
                add_tags=dict(add_tags or {}),
                remove_tags=list(remove_tags),
            )
        )

    def close(self) -> None:
        remaining = self.producer.flush(self.timeout)
        if remaining:
            raise KafkaException(f"{remaining} requests were not delivered")


def _selection(
    paths: Iterable[FsPath],
    regex: str | None,
    label: str | None,
    holding_id: int | None,
    tags: Mapping[str, str] | None,
) -> dict[str, Any]:
    """The fields that choose files, shared by GET, STAGE and DELETE. A regex that cannot
    be used (``patterns.BadPattern``) is refused here, before anything is recorded."""
    if regex is not None:
        patterns.compiled(regex)
    return {
        "paths": [os.fsencode(p) for p in paths],
        "regex": regex,
        "label": label,
        "holding_id": holding_id,
        "tags": dict(tags or {}),
    }


def request_envelope(
    user: str, group: str, transaction_id: str | None = None, job_label: str | None = None
) -> dict[str, Any]:
    """The envelope of a user request: nothing caused it, and its id follows from the
    transaction id, so recording the same request twice records one request. Its job
    label is the transaction id's first 8 characters unless the user named it."""
    transaction_id = transaction_id or str(uuid.uuid4())
    return {
        "event_id": event_id_for(transaction_id, "requested"),
        "transaction_id": transaction_id,
        "user": user,
        "group": group,
        "cause_id": None,
        "occurred_at": int(time.time() * 1000),
        "job_label": job_label or transaction_id[:8],
    }
