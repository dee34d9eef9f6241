"""``nearline-admin`` holds every operator command (D141): they left the users'
``nearline``, which now only points here."""

from __future__ import annotations

import sys

import pytest
import typer

from admin import commands as _commands  # noqa: F401 (registers the commands)
from admin.app import app, main
from nearline.settings import get_settings

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


def test_a_catalog_that_cannot_be_read_is_one_line_not_a_traceback(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("NEARLINE_CATALOG__URL", f"sqlite:///{tmp_path / 'never-migrated.db'}")
    monkeypatch.setattr(sys, "argv", ["nearline-admin", "orphans", "--prefix", "h0/"])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as ended:
            main()
    finally:
        get_settings.cache_clear()
    assert ended.value.code == 1
    error = capsys.readouterr().err
    assert "the catalog database could not be read (no such table: locations)" in error
    assert "Traceback" not in error
