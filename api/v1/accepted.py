"""How a command body becomes a request (the caller's scope, options) and the 202 reply."""

from __future__ import annotations

from api import commands
from api.auth import Identity
from api.v1.models import Accepted, CommandOptions
from domain.access import Scope
from events.base import Event

STATUS_URL = "/api/v1/transactions/{}"


def scope_of(identity: Identity, body: CommandOptions, groupall: bool = False) -> Scope:
    """The caller in the group the body names (default: their primary group)."""
    return Scope.of(identity, body.group or identity.primary_group, groupall)


def options(body: CommandOptions) -> commands.Options:
    tid = str(body.transaction_id) if body.transaction_id else None
    return commands.Options(body.job_label, tid)


def accepted(event: Event, api_action: str, job_label: str) -> Accepted:
    return Accepted(
        transaction_id=event.transaction_id,
        api_action=api_action,
        user=event.user,
        group=event.group,
        job_label=job_label,
        status_url=STATUS_URL.format(event.transaction_id),
    )
