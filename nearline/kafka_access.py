"""Who may do what on Kafka: one SCRAM principal per kind of nearline process, and the
ACLs that let each read only the topics it consumes and write only those it writes.

The log is the system of record and a forged request is acted on as if a user had made
it, so no principal may write a topic it has no reason to (only the API, and the two
processes that make requests themselves, write ``nearline.requests``), and none may read
a topic it does not consume. ``admin`` (operator tools, tests, topic creation) and
``broker`` (the brokers themselves) are super users and get no ACLs. The same table
serves the local stack (``make stack-up``) and production (``python -m admin.deploy
acls``); docs/deploy.md shows it as a table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from events.topics import (
    ARCHIVE_GET,
    ARCHIVE_PUT,
    CARTS,
    CATALOG,
    DEAD_LETTER,
    DELETE_OBJECTS,
    EVICT,
    INDEX,
    REPORTS,
    REQUESTS,
    RETRY,
    SCHEMAS_TOPIC,
    SCICAT,
    STATUS,
    TOKENS,
    TRANSFER_GET,
    TRANSFER_PUT,
)
from nearline.settings import Settings

ADMIN = "admin"
"""Operator tools, tests and topic creation: a super user."""
BROKER = "broker"
"""The brokers' own principal (inter-broker and controller traffic): a super user."""
SUPER_USERS = (BROKER, ADMIN)

TOPIC_PREFIX = "nearline."
GROUP_PREFIX = "nearline-"
SCHEMA_LOG_GROUP = "nearline-schema-log"
SCRAM_ITERATIONS = 8192


@dataclass(frozen=True)
class Access:
    """What one principal consumes, writes and which consumer groups it uses."""

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    group_prefixes: tuple[str, ...] = ()
    """Throwaway groups of readers that commit nothing (``nearline-tail-<random>``)."""
    describes_groups: bool = False
    """Lag and members of every nearline group (the status page and ``/metrics``)."""


def _worker(topic: str, group: str, *writes: str) -> Access:
    """A faust worker: consumes ``topic`` in ``group``, reports, may dead-letter."""
    return Access(reads=(topic,), writes=(*writes, DEAD_LETTER), groups=(group,))


_ACCESS: dict[str, Access] = {
    "api": Access(
        # history; the status page; token families (D113), which API processes share
        reads=(REQUESTS, CATALOG, STATUS, DEAD_LETTER, TOKENS),
        writes=(REQUESTS, CARTS, TOKENS, SCICAT),
        groups=("nearline-history",),
        group_prefixes=("nearline-tail-",),
        describes_groups=True,
    ),
    "catalog": Access(
        reads=(REQUESTS, REPORTS, CATALOG),  # the catalog topic when it rebuilds its state
        writes=(
            CATALOG,
            STATUS,
            INDEX,
            TRANSFER_PUT,
            TRANSFER_GET,
            DELETE_OBJECTS,
            ARCHIVE_PUT,
            ARCHIVE_GET,
            DEAD_LETTER,
        ),
        groups=("nearline-catalog", "nearline-catalog-rebuild"),
    ),
    "indexer": _worker(INDEX, "nearline-indexer", REPORTS),
    "transfer-put": _worker(TRANSFER_PUT, "nearline-transfer-put", REPORTS, STATUS, RETRY),
    "transfer-get": _worker(TRANSFER_GET, "nearline-transfer-get", REPORTS, STATUS),
    "delete-objects": _worker(DELETE_OBJECTS, "nearline-delete-objects", REPORTS),
    # A cart of files on tape asks for their stages (StageRequested) itself.
    "carts": _worker(CARTS, "nearline-carts", CARTS, REQUESTS),
    # SciCat's jobs: steps on its own topic (read back to resume a job), and the PUTs,
    # GETs and archive requests of the datasets.
    "scicat": Access(
        reads=(SCICAT,),
        writes=(SCICAT, REQUESTS, DEAD_LETTER),
        groups=("nearline-scicat", "nearline-scicat-fold"),
    ),
    # SciCat's rabbitmq action's jobs, recorded as the url action's are.
    "scicat-rabbitmq": Access(writes=(SCICAT,)),
    "archive-put": _worker(ARCHIVE_PUT, "nearline-archive-put", REPORTS),
    "archive-get": _worker(ARCHIVE_GET, "nearline-archive-get", REPORTS, STATUS),
    "evict": _worker(EVICT, "nearline-evict", REPORTS),
    # The archive sweep asks for aggregates (ArchiveRequested), the policy for evictions.
    "sweeper": Access(writes=(REQUESTS, EVICT)),
    "projections": Access(
        reads=(CATALOG, STATUS, REQUESTS, CARTS), groups=("nearline-projection-catalog",)
    ),
}


def _retry_access(others: Mapping[str, Access]) -> Access:
    """The retry forwarder sends a record back to the topic it came from: exactly the
    topics consumed by the processes that may schedule retries."""
    targets = sorted({t for a in others.values() if RETRY in a.writes for t in a.reads})
    return Access(reads=(RETRY,), writes=tuple(targets), groups=("nearline-retry",))


ACCESS: dict[str, Access] = {**_ACCESS, "retry": _retry_access(_ACCESS)}
"""Every principal but the super users, by the process kind it serves."""


def principals() -> list[str]:
    """Every principal the stack creates: the process kinds and the super users."""
    return [*SUPER_USERS, *ACCESS]


Grant = tuple[ResourceType, str, AclOperation, ResourcePatternType]


def _grants(access: Access) -> Iterator[Grant]:
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    # Every process finds the topics (and creates none: topics are made by ``admin``),
    # publishes the schemas it writes with and reads the schema log.
    yield topic, TOPIC_PREFIX, AclOperation.DESCRIBE, prefixed
    yield topic, SCHEMAS_TOPIC, AclOperation.READ, literal
    yield topic, SCHEMAS_TOPIC, AclOperation.WRITE, literal
    yield group, SCHEMA_LOG_GROUP, AclOperation.READ, literal
    for name in access.reads:
        yield topic, name, AclOperation.READ, literal
    for name in access.writes:
        yield topic, name, AclOperation.WRITE, literal
    for name in access.groups:
        yield group, name, AclOperation.READ, literal
    for name in access.group_prefixes:
        yield group, name, AclOperation.READ, prefixed
    if access.describes_groups:
        yield group, GROUP_PREFIX, AclOperation.DESCRIBE, prefixed


def bindings(prefix: str = "") -> set[AclBinding]:
    """Every ACL of every principal; ``prefix`` is put before each principal's name (a
    shared production cluster may name them ``nearline-api`` and so on)."""
    return {
        AclBinding(
            resource,
            name,
            pattern,
            f"User:{prefix}{kind}",
            "*",
            operation,
            AclPermissionType.ALLOW,
        )
        for kind, access in ACCESS.items()
        for resource, name, operation, pattern in _grants(access)
    }


def rows(prefix: str = "") -> list[tuple[str, str, str, str, str]]:
    """(principal, resource type, name, pattern type, operation) of every ACL, sorted:
    the same table as ``bindings``, for people and for ``kafka-acls.sh``."""
    return sorted(
        (
            f"User:{prefix}{kind}",
            resource.name.lower(),
            name,
            pattern.name.lower(),
            operation.name.title(),
        )
        for kind, access in ACCESS.items()
        for resource, name, operation, pattern in _grants(access)
    )


def _key(binding: AclBinding) -> tuple[object, ...]:
    return (
        binding.restype,
        binding.name,
        binding.resource_pattern_type,
        binding.principal,
        binding.host,
        binding.operation,
        binding.permission_type,
    )


def apply_acls(client: AdminClient, prefix: str = "", timeout: float = 30) -> tuple[int, int]:
    """Make the cluster's ACLs of nearline's principals exactly ``bindings(prefix)``:
    create the missing ones, delete those the table no longer has. Returns (created,
    deleted). Needs a super user (or a principal allowed to alter ACLs)."""
    wanted = {_key(b): b for b in bindings(prefix)}
    ours = {f"User:{prefix}{kind}" for kind in ACCESS}
    # None matches anything: the client accepts it, its type hints do not say so.
    anything: Any = None
    everything = AclBindingFilter(
        ResourceType.ANY,
        anything,
        ResourcePatternType.ANY,
        anything,
        anything,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    existing = client.describe_acls(everything, request_timeout=timeout).result()
    present = {_key(b): b for b in existing if b.principal in ours}
    missing = [b for k, b in wanted.items() if k not in present]
    stale = [b for k, b in present.items() if k not in wanted]
    if missing:
        for future in client.create_acls(missing, request_timeout=timeout).values():
            future.result()
    if stale:
        filters = [
            AclBindingFilter(
                b.restype,
                b.name,
                b.resource_pattern_type,
                b.principal,
                b.host,
                b.operation,
                b.permission_type,
            )
            for b in stale
        ]
        for future in client.delete_acls(filters, request_timeout=timeout).values():
            future.result()
    return len(missing), len(stale)


def upsert_scram_users(
    client: AdminClient, passwords: Mapping[str, str], timeout: float = 30
) -> None:
    """Create (or reset) the SCRAM-SHA-256 credential of each principal."""
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, SCRAM_ITERATIONS)
    alterations: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(user, info, password.encode())
        for user, password in sorted(passwords.items())
    ]
    if not alterations:
        return
    for future in client.alter_user_scram_credentials(
        alterations, request_timeout=timeout
    ).values():
        future.result()


def as_principal(settings: Settings, principal: str) -> Settings:
    """The same settings, connecting to Kafka as ``principal`` (with the stack's password
    for it, unless a password is configured)."""
    kafka = settings.kafka.model_copy(update={"sasl_username": principal, "sasl_password": None})
    return settings.model_copy(update={"kafka": kafka})


def writers_of(topic: str) -> list[str]:
    """The principals (besides the super users) allowed to write ``topic``."""
    return sorted(kind for kind, access in ACCESS.items() if topic in access.writes)
