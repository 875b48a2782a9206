"""Production shape: a webhook created through the daphne web process receives a swarm's events,
delivered by a `rundramatiq` worker process over Redis, signed, retried after a 500."""

from __future__ import annotations

import pytest

from tests.helpers import wait_for
from tests.receiver import running_receiver, verify

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def private_networks(monkeypatch):
    """The stack's processes take the environment: the receiver is on 127.0.0.1."""
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("WEBHOOK_RETRY_DELAY", "100")


@pytest.fixture
def webhook_stack(private_networks, stack):
    return stack


def test_a_swarm_delivers_its_events_to_a_webhook(webhook_stack):
    stack = webhook_stack
    with running_receiver() as receiver:
        receiver.answers = [500, 200]  # the first delivery is retried
        status, created = stack.api("POST", "/api/webhooks", {"url": receiver.url, "events": ["swarm.*"]})
        assert status == 201, created
        secret, webhook_id = created["secret"], created["data"]["id"]
        stack.worker()
        status, swarm = stack.api(
            "POST",
            "/api/swarm/create",
            {"objective": "Build a REST API for user management", "strategy": "development", "maxAgents": 2},
        )
        assert status == 201
        swarm_id = swarm["swarmId"]
        assert stack.api("POST", f"/api/swarm/{swarm_id}/start")[0] == 200
        wait_for(lambda: "swarm.completed" in receiver.event_types(), timeout=90, message="swarm.completed")
        assert all(verify(secret, r) for r in receiver.requests)
        delivered = {r.json()["eventType"] for r in receiver.requests}
        assert {"swarm.created", "swarm.started", "swarm.completed"} <= delivered
        assert all(t.startswith("swarm.") for t in delivered)
        completed = next(r.json() for r in receiver.requests if r.json()["eventType"] == "swarm.completed")
        assert completed["swarmId"] == swarm_id and completed["data"] == {"status": "completed"}

        log = stack.api("GET", f"/api/webhooks/{webhook_id}/deliveries?limit=100")[1]
        retried = [d for d in log["deliveries"] if d["attempts"] == 2]
        assert len(retried) == 1
        assert [a["statusCode"] for a in retried[0]["attemptLog"]] == [500, 200]
        assert all(
            d["status"] == "succeeded" for d in log["deliveries"] if d["eventType"] == "swarm.completed"
        )
