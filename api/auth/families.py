"""Token families: which refresh tokens were used, and which logins are revoked, shared by
every API process through the log (``nearline.tokens``, D113).

A password login starts a family; each refresh answers one refresh token with the next
pair of the same family. A refresh token may be used once: the API records the use
(``RefreshTokenUsed``, ids only), then reads the topic until it meets its own record. The
first record of a token in the log's order wins, whichever process wrote it; any later
use is a reuse (a stolen copy, or the thief's), and revokes the whole family
(``TokenFamilyRevoked``), access tokens included. Each process folds the topic from the
oldest record that can still matter: a refresh token older than its lifetime is expired
whatever the log says.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Protocol

from confluent_kafka import (
    OFFSET_END,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from api.auth import ProviderUnavailable
from events.auth import RefreshTokenUsed, TokenFamilyRevoked
from events.base import Event, event_id_for
from events.codec import UndecodableRecord, decode_message, encode
from events.topics import TOKENS
from nearline import bus
from nearline.observe.tail import TAIL_GROUP_PREFIX
from nearline.settings import Settings

log = logging.getLogger(__name__)

REUSED = "a refresh token was used twice"


class Families(Protocol):
    def redeem(self, family: str, jti: str, user: str, group: str) -> bool:
        """Record a use of refresh token ``jti``: True if it is the token's first use;
        else the family is revoked, and False."""
        ...

    def revoked(self, family: str) -> bool:
        """Whether the family was revoked (as far as this process has read)."""
        ...


def used(family: str, jti: str, user: str, group: str) -> RefreshTokenUsed:
    """The record of one use; its id is new for each use (as a request's transaction id
    is), so that two uses of one token are two records."""
    return RefreshTokenUsed(
        event_id=event_id_for("refresh", family, jti, str(uuid.uuid4())),
        transaction_id=family,
        user=user,
        group=group,
        cause_id=None,
        occurred_at=int(time.time() * 1000),
        family=family,
        jti=jti,
    )


def revocation(use: RefreshTokenUsed) -> TokenFamilyRevoked:
    return TokenFamilyRevoked(
        event_id=event_id_for("revoked", use.family),
        transaction_id=use.family,
        user=use.user,
        group=use.group,
        cause_id=use.event_id,
        occurred_at=int(time.time() * 1000),
        family=use.family,
        reason=REUSED,
    )


class FamilyFold:
    """What the topic says, folded in the log's order: the first use of each refresh
    token, and the revoked families. Entries older than ``keep_s`` are dropped: no token
    they could judge is still valid."""

    def __init__(self, keep_s: float, clock: Callable[[], float] = time.time) -> None:
        self.keep_ms = int(keep_s * 1000)
        self.clock = clock
        self.first: dict[tuple[str, str], tuple[str, int]] = {}  # (family, jti): (id, at)
        self.revoked: dict[str, int] = {}  # family: when
        self._applied = 0

    def apply(self, event: Event) -> None:
        match event:
            case RefreshTokenUsed():
                self.first.setdefault(
                    (event.family, event.jti), (event.event_id, event.occurred_at)
                )
            case TokenFamilyRevoked():
                self.revoked.setdefault(event.family, event.occurred_at)
        self._applied += 1
        if self._applied % 10_000 == 0:
            self._forget_old()

    def winner(self, family: str, jti: str) -> str | None:
        """The event id of the token's first use, if any was read."""
        first = self.first.get((family, jti))
        return first[0] if first else None

    def _forget_old(self) -> None:
        oldest = int(self.clock() * 1000) - self.keep_ms
        self.first = {k: v for k, v in self.first.items() if v[1] >= oldest}
        self.revoked = {k: at for k, at in self.revoked.items() if at >= oldest}


class MemoryFamilies:
    """The fold alone, for one process that never restarts: the tests' stand-in for the
    log (an installation always uses ``LogFamilies``)."""

    def __init__(self, keep_s: float = 30 * 86400) -> None:
        self.fold = FamilyFold(keep_s)
        self.lock = threading.Lock()

    def redeem(self, family: str, jti: str, user: str, group: str) -> bool:
        use = used(family, jti, user, group)
        with self.lock:
            self.fold.apply(use)
            if self.fold.winner(family, jti) == use.event_id:
                return family not in self.fold.revoked
            self.fold.apply(revocation(use))
            return False

    def revoked(self, family: str) -> bool:
        with self.lock:
            return family in self.fold.revoked


class LogFamilies:
    """The families as ``nearline.tokens`` records them, for any number of API processes.

    A thread folds the topic from ``keep_s`` ago on; it starts on first use, and a
    refresh waits (at most ``wait_s``) until it has read the refresh's own record."""

    def __init__(self, settings: Settings, keep_s: float, wait_s: float = 10.0) -> None:
        self.settings = settings
        self.fold = FamilyFold(keep_s)
        self.wait_s = wait_s
        self._changed = threading.Condition()
        self._started = False
        self._failure: str | None = None
        self._producer: Producer | None = None

    def redeem(self, family: str, jti: str, user: str, group: str) -> bool:
        self._start()
        use = used(family, jti, user, group)
        self._produce(use)
        deadline = time.monotonic() + self.wait_s
        with self._changed:
            # The fold reads each partition in order, and a family's records share one:
            # the first record of the token it meets is the earliest, ours or another.
            while (winner := self.fold.winner(family, jti)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProviderUnavailable(
                        f"the token log did not answer ({self._failure or 'no record back'}); "
                        "try again in a minute"
                    )
                self._changed.wait(left)
            first = winner == use.event_id and family not in self.fold.revoked
        if not first:
            self._produce(revocation(use))
            with self._changed:
                self.fold.apply(revocation(use))  # refused here at once, everywhere soon
        return first

    def revoked(self, family: str) -> bool:
        self._start()
        with self._changed:
            return family in self.fold.revoked

    def _produce(self, event: Event) -> None:
        done = threading.Event()
        errors: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                errors.append(error)
            done.set()

        producer = self._producer_once()
        try:
            producer.produce(
                TOKENS,
                key=event.transaction_id.encode(),
                value=encode(event),
                on_delivery=delivered,
            )
        except (KafkaException, BufferError) as error:
            raise ProviderUnavailable(f"the token log cannot be written: {error}") from None
        deadline = time.monotonic() + self.wait_s
        while not done.is_set() and time.monotonic() < deadline:
            producer.poll(0.05)
        if errors or not done.is_set():
            reason = errors[0].str() if errors else "no answer from the broker"
            raise ProviderUnavailable(f"the token log cannot be written: {reason}")

    def _producer_once(self) -> Producer:
        with self._changed:
            if self._producer is None:
                self._producer = bus.producer(self.settings)
            return self._producer

    def _start(self) -> None:
        with self._changed:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._read, name="token-families", daemon=True).start()

    def _read(self) -> None:
        """Fold the topic for as long as the process lives; reconnect after errors."""
        while True:
            try:
                self._follow()
            except Exception as error:  # Kafka away: say so, keep what was read, retry
                self._failure = f"{type(error).__name__}: {error}"
                log.warning("cannot read %s: %s", TOKENS, error)
                time.sleep(2)

    def _follow(self) -> None:
        topic = [t for t in bus.declared_topics(self.settings) if t.name == TOKENS]
        try:
            bus.ensure_topics(self.settings, topic)
        except KafkaException as error:  # not ours to create: the admin's step makes it
            log.warning("cannot create %s: %s", TOKENS, error)
        # A throwaway group that commits nothing, as every tail of a topic has.
        group = f"{TAIL_GROUP_PREFIX}tokens-{uuid.uuid4().hex[:8]}"
        consumer = bus.consumer(self.settings, group, **{"fetch.wait.max.ms": 20})
        try:
            metadata = consumer.list_topics(TOKENS, timeout=10).topics.get(TOKENS)
            if metadata is None or metadata.error is not None:
                raise KafkaException(f"no topic {TOKENS}")
            since = int((time.time() * 1000) - self.fold.keep_ms)
            wanted = [TopicPartition(TOKENS, p, since) for p in metadata.partitions]
            starts = consumer.offsets_for_times(wanted, timeout=10)
            # A partition with nothing that recent starts at its end.
            consumer.assign(
                [
                    TopicPartition(TOKENS, s.partition, s.offset if s.offset >= 0 else OFFSET_END)
                    for s in starts
                ]
            )
            self._failure = None
            while True:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                failure = message.error()
                if failure is not None:
                    self._failure = failure.str()
                    continue
                try:
                    event = decode_message(
                        message.value() or b"",
                        topic=TOKENS,
                        partition=message.partition() or 0,
                        offset=message.offset() or 0,
                    )
                except UndecodableRecord as error:
                    log.warning("skipped an undecodable record on %s: %s", TOKENS, error)
                    continue
                with self._changed:
                    self.fold.apply(event)
                    self._changed.notify_all()
        finally:
            consumer.close()


def token_families(settings: Settings) -> Families:
    """The families of an installation: the log's, folded over the refresh token
    lifetime (no token older than that can still be used)."""
    return LogFamilies(settings, keep_s=settings.auth.local.refresh_token_ttl_s)
