"""Whole-holding delete (D132): only when asked for in words, with the holding's label
or id; anything less explicit is a usage error, in the command and in the library."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from client.cli import app, common
from client.cli import commands as _commands  # noqa: F401 (registers the commands)
from client.library import Client
from events.requests import DeleteRequested


@pytest.fixture
def real(nearline: Client, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The CLI against the API in-process (requests recorded, not sent)."""
    monkeypatch.setattr(common, "make_client", lambda _server: nearline)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})

    yield invoke


def test_a_whole_holding_is_deleted_only_when_asked_for_in_words(real, log):
    # Without paths or --regex: a usage error that names the ways, nothing recorded.
    for args in (
        ["del", "--label", "run"],
        ["del", "--label", "run", "--regex", "x", "--whole-holding"],
        ["del", "/data/run/a.nc", "--label", "run", "--whole-holding"],
        ["del", "--tag", "project=cmip7", "--whole-holding"],  # the holding by label or id
    ):
        result = real(*args)
        assert result.exit_code == 2, args
        assert "--whole-holding" in result.output
    assert log.events == []
    result = real("del", "--label", "run", "--whole-holding", "--json")
    assert result.exit_code == 0, result.output
    [request] = log.events
    assert isinstance(request, DeleteRequested)
    assert (request.paths, request.regex, request.label) == ([], None, "run")
    by_id = real("del", "--holding-id", "3", "--whole-holding")
    assert by_id.exit_code == 0 and "nearline watch" in by_id.stdout
    assert log.events[1].holding_id == 3 and log.events[1].paths == []


def test_the_library_refuses_an_unclear_delete(nearline: Client, log):
    with pytest.raises(ValueError, match="whole holding"):
        nearline.delete(label="run")
    with pytest.raises(ValueError, match="by its label or its id"):
        nearline.delete(tags={"project": "cmip7"}, whole_holdings=True)
    assert log.events == []
    nearline.delete(regex=".", label="run")  # every file, keeping the holding
    assert log.events[0].regex == "."
