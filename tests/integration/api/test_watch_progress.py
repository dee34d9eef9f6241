"""``nearline watch`` through the real command and API over the stack (D132): a PUT of
many files shows files and bytes rising to the totals, and so do a GET from the cache and
one from tape (the recall, then the transfer); the log holds each step's reports."""

from __future__ import annotations

import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from projections.db import make_engine
from tests.integration.api.test_cli import Nearline, owned_tree
from tests.integration.api.test_recall_cli import put_tape_only

FIGURES = re.compile(r"(?P<state>[A-Z_]+)  (?P<done>\d+)/(?P<total>\d+) files  (?P<bytes>\S+ \S*B)")


@pytest.fixture
def shell(api_url: str, accounts, tmp_path: Path) -> Nearline:
    """alice's shell, logged in."""
    user = Nearline(api_url, tmp_path / "alice-config")
    user.login(accounts["alice"])
    return user


@pytest.fixture
def engine(catalog_url) -> Iterator:
    engine = make_engine(catalog_url)
    yield engine
    engine.dispose()


def watched(shell: Nearline, transaction: str) -> list[re.Match[str]]:
    """The figures the watch showed, a line per change (its output is no terminal)."""
    result = shell("watch", transaction, "--interval", "0.2", "--timeout", "600")
    assert result.exit_code == 0, result.output
    lines = [FIGURES.search(line) for line in result.stderr.splitlines()]
    shown = [m for m in lines if m is not None]
    assert shown, f"no figures shown: {result.stderr}"
    return shown


def mb(count: int) -> str:
    return f"{count / 1e6:.1f}/{count / 1e6:.1f} MB"


def progress_told(history: list[dict[str, Any]], state: str) -> dict[int, list[dict]]:
    """The progress figures the log holds for ``state``, by the step's file total."""
    told: dict[int, list[dict]] = defaultdict(list)
    for event in history:
        figures = event.get("progress")
        if figures and event["state"] == state:
            told[figures["files_total"]].append(figures)
    return told


def test_a_put_of_many_files_and_a_get_show_files_and_bytes_rising_to_the_totals(
    shell, accounts, shared_dir
):
    # 1,100 small files (packed) and 3 of 2 MiB (alone): two sub-batches of the indexer.
    contents = {
        f"many/d{i // 100:02d}/f{i:04d}.dat".encode(): os.urandom(8192) for i in range(1100)
    }
    contents |= {f"many/big{i}.dat".encode(): os.urandom(2 * 1024 * 1024) for i in range(3)}
    owned_tree(shared_dir, accounts["alice"], contents)
    total = sum(len(data) for data in contents.values())
    label = f"progress-{uuid.uuid4().hex[:6]}"
    put = shell.json("put", str(shared_dir / "many"), "--label", label)["transaction_id"]

    shown = watched(shell, put)
    done = [int(m["done"]) for m in shown]
    assert done == sorted(done), [m.group(0) for m in shown]  # never taken back
    last = shown[-1]
    assert (int(last["done"]), int(last["total"]), last["bytes"]) == (1103, 1103, mb(total))
    assert {m["state"] for m in shown} <= {"TRANSFER_PUTTING", "COMPLETE"}

    # stat: the transaction's figures, and each sub-batch's of its transfer
    tx = shell.json("stat", put)
    assert tx["state"] == "COMPLETE"
    assert tx["progress"] == {
        "state": None,
        "files_done": 1103,
        "files_total": 1103,
        "bytes_done": total,
        "bytes_total": total,
    }
    subs = [s["progress"] for s in tx["sub_records"] if s["progress"]]
    assert len(subs) == 2 and sum(s["files_total"] for s in subs) == 1103
    for sub in subs:
        assert sub["state"] == "TRANSFER_PUTTING"
        assert (sub["files_done"], sub["bytes_done"]) == (sub["files_total"], sub["bytes_total"])

    # the log: each sub-batch's totals with nothing done (the decider), then the worker's
    # reports up to them, never down
    told = progress_told(shell.json("history", "--transaction", put), "TRANSFER_PUTTING")
    assert sorted(told) == sorted(s["files_total"] for s in subs)
    for reports in told.values():
        assert reports[0]["files_done"] == 0 and reports[0]["bytes_done"] == 0
        assert reports[-1]["files_done"] == reports[-1]["files_total"]
        assert [r["bytes_done"] for r in reports] == sorted(r["bytes_done"] for r in reports)

    # a GET of the large files back, followed the same way
    target = shared_dir / "back"
    target.mkdir()
    owned_tree(target, accounts["alice"], {})
    get = shell.json(
        "get", "--regex", r"/big[0-9]\.dat$", "--label", label, "--target", str(target)
    )
    last = watched(shell, get["transaction_id"])[-1]
    size = 3 * 2 * 1024 * 1024
    assert (int(last["done"]), int(last["total"]), last["bytes"]) == (3, 3, mb(size))
    [step] = progress_told(
        shell.json("history", "--transaction", get["transaction_id"]), "TRANSFER_GETTING"
    ).values()
    assert (step[0]["files_done"], step[-1]["files_done"], step[-1]["bytes_done"]) == (0, 3, size)


def test_a_get_from_tape_shows_the_stage_then_the_transfer_rising_to_the_totals(
    shell, accounts, shared_dir, settings, engine
):
    contents = {f"f{i}.dat".encode(): os.urandom(300_000) for i in range(4)}
    label, _holding, _tape = put_tape_only(
        shell, accounts["alice"], shared_dir / "taped", contents, settings, engine
    )
    target = shared_dir / "from-tape"
    target.mkdir()
    owned_tree(target, accounts["alice"], {})
    get = shell.json("get", "--regex", ".", "--label", label, "--target", str(target))
    tid = get["transaction_id"]
    last = watched(shell, tid)[-1]
    assert (int(last["done"]), int(last["total"]), last["bytes"]) == (4, 4, mb(1_200_000))
    history = shell.json("history", "--transaction", tid)
    # The stage (nothing on disk yet), then the restore straight from the staged
    # aggregate, which the figures follow (D231).
    [staging] = progress_told(history, "ARCHIVE_GETTING").values()
    assert staging[0]["files_done"] == 0 and staging[0]["files_total"] == 4
    [reports] = progress_told(history, "TRANSFER_GETTING").values()
    assert reports[0]["files_done"] == 0
    assert (reports[-1]["files_done"], reports[-1]["bytes_done"]) == (4, 1_200_000)
    for name, data in contents.items():
        assert (
            target / os.fsdecode(shared_dir).lstrip("/") / "taped" / name.decode()
        ).read_bytes() == data
