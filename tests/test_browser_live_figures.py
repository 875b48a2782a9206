"""Live figures in Debian's Chromium (issue 13, item 7): after a stop the page's spend settles to
the server's, and the "Swarm created" banner goes away by itself."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_browser import (  # noqa: F401 — fixtures
    LIVE_JS,
    account,
    browser_page,
    create_swarm,
    log_in,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SERVER_SPEND_JS = """async () => {
  const root = document.getElementById('swarm-page');
  const fresh = await (await fetch(root.dataset.stateUrl, {headers: {Accept: 'application/json'}})).json();
  return fresh.swarm.spend.text;
}"""


def status_is(status: str) -> str:
    return f"() => document.getElementById('swarm-status').textContent === '{status}'"


def test_after_a_stop_the_page_spend_settles_to_the_servers(
    browser_page: tuple[Any, list[str]],  # noqa: F811
    fake_claude: Any,
) -> None:
    page, problems = browser_page
    fake_claude.configure(latency_ms=1500)  # a call is in flight when the stop cuts it
    log_in(page)
    create_swarm(page, "Build a small command-line calculator with tests")
    banner = page.locator(".messages .message-success")
    assert "Swarm created" in banner.inner_text()
    page.wait_for_function(LIVE_JS)
    page.wait_for_function(status_is("executing"), timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('#tasks-running > li').length > 0")
    page.click("button[data-action=stop]")
    page.wait_for_function(status_is("stopped"))
    # the page fetches the figures again until the cut-off calls are settled (last at 15 s)
    page.wait_for_function(
        "() => document.getElementById('swarm-page').dataset.settled === 'true'", timeout=30_000
    )
    shown = page.locator("#swarm-spend").inner_text()
    assert shown == page.evaluate(SERVER_SPEND_JS)
    assert not shown.endswith("$0.0000")  # the planner's call at least was paid for
    assert banner.count() == 0  # the success banner went away by itself
    assert problems == []


def test_a_banner_can_be_closed(browser_page: tuple[Any, list[str]]) -> None:  # noqa: F811
    page, problems = browser_page
    log_in(page)
    create_swarm(page, "Write a friendly greeting module")
    page.click(".messages .message-close")
    assert page.locator(".messages").count() == 0
    assert problems == []
