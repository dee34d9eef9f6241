"""The status page in a real browser: it shows every processor up with its lag, and a
processor that was stopped shows as down at the page's next automatic refresh."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.ops.browser import Browser

REFRESH_S = 3  # NEARLINE_METRICS__STATUS_REFRESH_S of the test API

ROWS = """
Array.from(document.querySelectorAll('#processors tbody tr')).map(
  r => Array.from(r.cells).map(c => c.textContent))
"""


@pytest.fixture
def browser():
    b = Browser()
    yield b
    b.close()


def states(rows: list[list[str]]) -> dict[str, str]:
    return {row[0]: row[1] for row in rows}


def test_a_stopped_processor_shows_as_down_within_the_refresh_interval(api, workers, browser):
    page = f"{api.url}/system/status/"

    def all_up(rows: list[list[str]]) -> bool:
        return all(states(rows).get(n) == "up" for n in ("catalog", "indexer", "transfer-put"))

    seen = asyncio.run(browser.watch(page, ROWS, all_up, timeout=30))
    shown = seen[-1]
    assert {"catalog", "indexer", "transfer-put", "projections"} <= set(states(shown))
    assert all(row[3].isdigit() for row in shown)  # each processor's lag

    workers.stop("indexer")  # SIGTERM: it leaves its consumer group as it exits
    stopped = time.monotonic()
    try:
        seen = asyncio.run(
            browser.watch(page, ROWS, lambda rows: states(rows).get("indexer") == "down", 30)
        )
        # The browser did not reload the page: the page reloaded itself.
        assert time.monotonic() - stopped <= REFRESH_S + 3
        assert states(seen[-1])["catalog"] == "up"
    finally:
        workers.start("indexer")


def test_the_page_shows_cache_tape_queue_and_failures(api, workers):
    import httpx

    html = httpx.get(f"{api.url}/system/status/", timeout=30).text
    assert f"http-equiv='refresh' content='{REFRESH_S}'" in html
    assert "<p id='cache'>" in html and " files" in html
    assert "<p id='tape-queue'>" in html and "waiting" in html
    assert 'id="failed-transactions"' in html and 'id="dead-letters"' in html
