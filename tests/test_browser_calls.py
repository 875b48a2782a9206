"""The Calls pages in Debian's Chromium: a real swarm's prompt trace, with hostile model output in
it, is shown as inert text (no script runs, no CSP violation)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_browser import (  # noqa: F401 — fixtures
    ARTIFACTS,
    HARMLESS,
    HOSTILE_DOM_JS,
    account,
    browser_page,
    create_swarm,
    log_in,
    server,
    wait_until_finished,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_calls_view_shows_a_hostile_trace_as_text(browser_page: tuple[Any, list[str]]) -> None:  # noqa: F811
    page, problems = browser_page
    log_in(page)
    swarm_id = create_swarm(page, "Write a friendly greeting module [[fake:xss]]")
    wait_until_finished(page)

    page.click("#calls-link")
    page.wait_for_url(f"**/swarms/{swarm_id}/calls")
    assert page.locator("a.call-link").count() >= 2  # the plan, then the agents' calls
    assert page.evaluate(HOSTILE_DOM_JS, None) == HARMLESS
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "calls-page.png"), full_page=True)

    page.locator("tr", has_text="agent").locator("a.call-link").first.click()
    page.wait_for_url(f"**/swarms/{swarm_id}/calls/*")
    answer = page.locator(".trace-assistant").inner_text()
    assert "<script>window.__xss=1</script>" in answer  # arrived, as text
    assert page.locator(".trace-message.trace-user").count() >= 1
    assert page.evaluate(HOSTILE_DOM_JS, None) == HARMLESS
    page.locator("details summary", has_text="Request").click()  # the raw JSON unfolds without script
    assert page.evaluate(HOSTILE_DOM_JS, None) == HARMLESS
    assert page.evaluate("typeof window.__xss") == "undefined"
    page.screenshot(path=str(ARTIFACTS / "call-page.png"), full_page=True)
    assert problems == []
