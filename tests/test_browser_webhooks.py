"""The webhook pages in Chromium against daphne (embedded workers): add a webhook in the form, see
its secret once, and watch a swarm's event arrive in its delivery log."""

from __future__ import annotations

import pytest

from access.services import apikey_create
from tests.receiver import running_receiver, verify
from tests.stack import http
from tests.test_browser import ARTIFACTS, account, browser_page, log_in, server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def private_networks(monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")  # daphne takes the environment


@pytest.fixture
def key(alice):
    return apikey_create(owner=alice, name="browser", permissions=["read", "write"])[1]


def test_a_webhook_added_in_the_browser_receives_a_swarms_event(
    private_networks,
    key,
    browser_page,  # noqa: F811 - the fixture
    server,  # noqa: F811 - the fixture
):
    page, problems = browser_page
    with running_receiver() as receiver:
        log_in(page)
        page.click("text=Webhooks")
        page.fill("#id_url", receiver.url)
        page.fill("#id_events", "swarm.created, task.*")
        page.fill("#id_description", "browser test")
        page.click("button:has-text('Add webhook')")
        secret = page.input_value("#new-secret-value")
        assert secret.startswith("whsec_")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "webhooks-page.png"), full_page=True)
        page.reload()
        assert page.locator("#new-secret-value").count() == 0  # shown once
        status, created = http(
            "POST", f"{server}/api/swarm/create", key, {"objective": "Build a small command-line calculator"}
        )
        assert status == 201
        for _ in range(100):  # the embedded workers deliver it
            if receiver.requests:
                break
            page.wait_for_timeout(100)
        (received,) = [r for r in receiver.requests if r.json()["eventType"] == "swarm.created"]
        assert verify(secret, received) and received.json()["swarmId"] == created["swarmId"]
        page.click(f"a:has-text('{receiver.url}')")
        page.wait_for_selector("text=succeeded")
        assert "swarm.created" in page.locator(".deliveries-table").inner_text()
        page.screenshot(path=str(ARTIFACTS / "webhook-page.png"), full_page=True)
        page.click("button:has-text('Disable')")
        page.wait_for_selector(".badge-disabled")
    assert problems == []
