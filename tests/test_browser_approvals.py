"""Both approval gates in Chromium: the plan, then a task's output, approved on the swarm page."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests import test_browser
from tests.test_browser import ARTIFACTS, HARMLESS, HOSTILE_DOM_JS, log_in, wait_until_finished
from tests.test_planning import GOOD_PLAN

# test_browser's fixtures: daphne, alice with a password, a Chromium page
server, account, browser_page = test_browser.server, test_browser.account, test_browser.browser_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gated_plan(fake_claude: Any) -> None:
    """The planner's answer: Implement's output needs approval before Document runs."""
    plan = copy.deepcopy(GOOD_PLAN)
    plan["tasks"][1]["requiresApproval"] = True
    fake_claude.enqueue({"tool_input": plan})


def test_a_plan_and_a_task_output_are_approved_on_the_swarm_page(
    gated_plan: None, browser_page: tuple[Any, list[str]]
) -> None:
    page, problems = browser_page
    log_in(page)
    page.fill("#id_objective", "Build a REST API for user management")
    page.check("#id_approve_plan")
    page.click("text=Create swarm")
    page.wait_for_url("**/swarms/*")

    plan = page.locator("#plan-approval")
    plan.wait_for(timeout=30_000)  # the page reloads when the plan lands
    assert page.locator("#swarm-status").inner_text() == "awaiting_approval"
    assert page.locator("#plan-tasks > li").count() == 3
    assert "after 1" in page.locator("#plan-tasks > li").nth(1).inner_text()
    assert "needs your approval" in page.locator("#plan-tasks > li").nth(1).inner_text()
    assert page.locator("#plan-estimate").inner_text().startswith("Estimated cost to run: $")
    plan.get_by_role("button", name="Approve (starts at once)").click()

    outputs = page.locator("#output-approvals")
    outputs.wait_for(timeout=60_000)  # Implement's output arrived: the page reloads again
    assert outputs.locator("h3").inner_text() == "Implement"
    assert outputs.locator(".md").inner_text().strip()
    assert page.evaluate(HOSTILE_DOM_JS, "#output-approvals .md") == HARMLESS
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "output-approval.png"), full_page=True)
    outputs.get_by_role("button", name="Approve output").click()

    wait_until_finished(page)
    assert page.locator("#output-approvals").count() == 0
    assert page.locator("#tasks-completed > li").count() == 3
    assert problems == []
