"""The ``nearline`` command's output and exit statuses, against the API in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from client.cli import app, common
from client.cli import commands as _commands  # noqa: F401 (registers the commands)
from client.library import Client


@pytest.fixture
def run(nearline: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(common, "make_client", lambda _server: nearline)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), env={"COLUMNS": "200"})

    return invoke


def test_list_as_a_table_and_as_json(run):
    table = run("list", "--label", "run")
    assert table.exit_code == 0
    assert "run" in table.stdout and "project=cmip7" in table.stdout
    [holding] = json.loads(run("list", "--tag", "kind=model", "--json").stdout)
    assert holding["label"] == "run"


def test_find_shows_a_name_that_is_not_utf8_as_text(run):
    result = run("find", "--regex", "bad-")
    assert result.exit_code == 0 and r"bad-\xff\xfe.bin" in result.stdout


def test_stat_of_one_transaction_lists_its_failures(run):
    result = run("stat", "t-alice-partial")
    assert result.exit_code == 0 and "COMPLETE_WITH_ERRORS" in result.stdout
    assert "File already exists in holding." in result.stdout


def test_watch_exits_non_zero_for_a_failed_transaction(run):
    assert run("watch", "t-alice-run", "--interval", "0.05").exit_code == 0
    failed = run("watch", "t-alice-partial", "--interval", "0.05", "--json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["state"] == "COMPLETE_WITH_ERRORS"


def test_put_prints_how_to_follow_it(run):
    result = run("put", "/data/new", "--label", "fresh", "--tag", "a=b")
    assert result.exit_code == 0 and "nearline watch" in result.stdout


def test_usage_errors(run):
    assert run("list", "--tag", "no-equals-sign").exit_code == 2
    assert run("get").exit_code == 2  # neither paths nor --regex
    assert run("list", "--order", "sideways").exit_code == 2


def test_api_errors_are_one_clear_line_and_exit_1(run):
    result = run("stat", "no-such-transaction")
    assert result.exit_code == 1 and "You have no transaction" in result.stderr
    result = run("holdings-of", "nobody")
    assert result.exit_code == 2  # not a command: usage, not a traceback


def test_quota_shows_use_and_limits(run):
    result = run("quota", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["user"]["name"] == "alice"


def test_find_as_json_is_the_listing_the_library_reads(run, nearline: Client):
    """--json passes the server's lines on as they are: the same entries, field for field
    and in the same order, as the library parses."""
    result = run("find", "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown == list(nearline.each_file())
    assert [list(f) for f in shown] == [list(f) for f in nearline.each_file()]
    assert any(f["path_b64"] for f in shown)
    assert json.loads(run("find", "--json", "--regex", "^nothing-matches$").stdout) == []


def test_find_as_json_of_a_refused_listing_writes_nothing(run):
    result = run("find", "--json", "--regex", "*")
    assert result.exit_code == 1 and result.stdout == ""
