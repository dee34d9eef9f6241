"""``nearline watch`` (D132): the working state, files and bytes done out of totals, the
rate and the time left, a line per change when its output is no terminal; sub-batches
done out of all when the server tells no figures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from client.cli import app, common
from client.cli import commands as _commands  # noqa: F401 (registers the commands)
from client.cli.figures import Rate, clock_text, describe, figures_text, si_bytes, working_state

TID = "5f0c9e2a-0000-4000-8000-000000000132"


def progress(files_done: int, files_total: int, bytes_done: int, bytes_total: int) -> dict:
    return {
        "state": None,
        "files_done": files_done,
        "files_total": files_total,
        "bytes_done": bytes_done,
        "bytes_total": bytes_total,
    }


def tx(state: str, subs: list[str], figures: dict | None = None) -> dict[str, Any]:
    return {
        "transaction_id": TID,
        "state": state,
        "warnings": [],
        "sub_records": [
            {"sub_id": i, "state": s, "failed_files": [], "progress": None}
            for i, s in enumerate(subs)
        ],
        "progress": figures,
    }


def test_sizes_times_and_the_line_of_figures():
    assert si_bytes(1_234_000_000) == ("1.2", "GB")
    assert si_bytes(3_000_000_000) == ("3.0", "GB")
    assert si_bytes(999) == ("999", "B") and si_bytes(45_000_000) == ("45.0", "MB")
    assert si_bytes(1_200_000_000, "GB") == ("1.2", "GB")
    assert (clock_text(40), clock_text(725), clock_text(10_930)) == ("0:40", "12:05", "3:02:10")
    line = figures_text(progress(120, 301, 1_200_000_000, 3_000_000_000), 45_000_000)
    assert line == "120/301 files  1.2/3.0 GB  45.0 MB/s  ETA 0:40"
    assert figures_text(progress(0, 301, 0, 3_000_000_000), None) == "0/301 files  0.0/3.0 GB"


def test_the_state_shown_is_the_earliest_working_sub_batch_then_the_outcome():
    running = tx("INDEXING", ["COMPLETE", "TRANSFER_PUTTING", "TRANSFER_PUTTING"])
    assert working_state(running) == "TRANSFER_PUTTING"
    assert working_state(tx("INDEXING", [])) == "INDEXING"
    assert working_state(tx("ROUTING", ["TRANSFER_GETTING", "ARCHIVE_GETTING"])) == (
        "ARCHIVE_GETTING"
    )
    assert working_state(tx("COMPLETE", ["COMPLETE"])) == "COMPLETE"
    # No figures (a DELETE, an older server): sub-batches settled out of all.
    deleting = tx("CATALOG_DELETING", ["COMPLETE", "CATALOG_DELETING"])
    assert describe(deleting, None) == "CATALOG_DELETING  1/2 sub-batches"


def test_the_rate_is_over_a_window_and_starts_again_when_the_figure_drops():
    now = [0.0]
    rate = Rate(window_s=10, clock=lambda: now[0])
    assert rate.add(0) is None
    now[0] = 2.0
    assert rate.add(200) == 100.0
    now[0] = 4.0
    assert rate.add(600) == 150.0
    now[0] = 20.0  # the oldest samples leave the window
    assert rate.add(2200) == pytest.approx((2200 - 600) / 16)
    now[0] = 21.0
    assert rate.add(100) is None  # a new step from nothing: no rate yet
    now[0] = 22.0
    assert rate.add(300) == 200.0


class Scripted:
    """A client whose transaction goes through the given replies, then stays at the last."""

    def __init__(self, replies: list[dict[str, Any]]):
        self.replies = iter(replies)
        self.last = replies[-1]

    def __enter__(self) -> Scripted:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def transaction(self, transaction_id: str, groupall: bool = False) -> dict[str, Any]:
        self.last = next(self.replies, self.last)
        return self.last


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    def invoke(fake: Any, *args: str) -> Result:
        monkeypatch.setattr(common, "make_client", lambda _server: fake)
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})

    return invoke


def test_watch_shows_files_and_bytes_rising_to_the_totals_a_line_per_change(run):
    total = 300_000_000
    replies = [
        tx("ROUTING", []),
        tx("INDEXING", ["TRANSFER_PUTTING"], progress(0, 301, 0, total)),
        tx("INDEXING", ["TRANSFER_PUTTING"], progress(0, 301, 0, total)),  # no change: no line
        tx("INDEXING", ["TRANSFER_PUTTING"], progress(120, 301, 120_000_000, total)),
        tx("INDEXING", ["TRANSFER_PUTTING"], progress(301, 301, total, total)),
        tx("COMPLETE", ["COMPLETE"], progress(301, 301, total, total)),
    ]
    result = run(Scripted(replies), "watch", TID, "--interval", "0.3")  # a rate: 0.5 s
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"{TID[:8]} ROUTING"
    assert lines[1] == f"{TID[:8]} TRANSFER_PUTTING  0/301 files  0.0/300.0 MB"
    assert lines[2].startswith(f"{TID[:8]} TRANSFER_PUTTING  120/301 files  120.0/300.0 MB  ")
    assert " MB/s  ETA " in lines[2]
    assert lines[3].startswith(f"{TID[:8]} TRANSFER_PUTTING  301/301 files  300.0/300.0 MB")
    assert lines[4].startswith(f"{TID[:8]} COMPLETE  301/301 files  300.0/300.0 MB")
    assert len(lines) == 5
    assert result.stdout == f"{TID}: COMPLETE\n"


def test_watch_with_json_prints_only_the_final_transaction(run):
    replies = [tx("COMPLETE", ["COMPLETE"], progress(2, 2, 20, 20))]
    result = run(Scripted(replies), "watch", TID, "--interval", "0.05", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["progress"]["files_done"] == 2
