"""``nearline-admin`` holds every operator command (D141): they left the users'
``nearline``, which now only points here."""

from __future__ import annotations

import typer

from admin import commands as _commands  # noqa: F401 (registers the commands)
from admin.app import app

OPERATOR_COMMANDS = {
    "serve", "lag", "replay", "history", "dlq", "archive", "evict", "orphans", "events",
}  # fmt: skip


def test_every_operator_command_is_a_nearline_admin_command():
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    assert set(group.commands) == OPERATOR_COMMANDS
    events = group.commands["events"]
    assert isinstance(events, typer.core.TyperGroup) and set(events.commands) == {"tail"}
    dlq = group.commands["dlq"]
    assert isinstance(dlq, typer.core.TyperGroup) and set(dlq.commands) == {"list", "redrive"}
