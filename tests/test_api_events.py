"""GET /api/swarm/{id}/events: the event stream over HTTP, paged by event id, owner-only."""

from __future__ import annotations

import pytest

from swarms.services import swarm_add_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def events_of(swarm_of_alice):
    for n in range(5):
        swarm_add_task(swarm_id=swarm_of_alice.id, name=f"Task {n}", description="Do it", type="coding")
    return swarm_of_alice


def read_all(client, swarm_id, **params):
    seen, after = [], 0
    while True:
        body = client.get(f"/api/swarm/{swarm_id}/events", {**params, "afterId": after}).json()
        seen += body["events"]
        assert body["nextAfterId"] >= after
        after = body["nextAfterId"]
        if not body["hasMore"]:
            return seen, after


def test_pages_read_the_whole_stream_in_order_once(client_of_alice, events_of):
    everything = client_of_alice.get(f"/api/swarm/{events_of.id}/events", {"limit": 500}).json()
    paged, last = read_all(client_of_alice, events_of.id, limit=2)
    assert [e["eventId"] for e in paged] == [e["eventId"] for e in everything["events"]]
    assert [e["seq"] for e in paged] == sorted(e["seq"] for e in paged)
    assert sum(e["eventType"] == "task.created" for e in paged) == 5
    assert last == paged[-1]["eventId"]
    first = paged[0]
    assert set(first) >= {"eventId", "seq", "swarmId", "eventType", "data", "timestamp"}
    # nothing new: an empty page that keeps the position
    body = client_of_alice.get(f"/api/swarm/{events_of.id}/events", {"afterId": last}).json()
    assert body == {"swarmId": events_of.id, "events": [], "nextAfterId": last, "hasMore": False}


def test_a_type_glob_filters_and_the_position_still_moves_on(client_of_alice, events_of):
    tasks, _ = read_all(client_of_alice, events_of.id, limit=2, type="task.*")
    assert tasks and all(e["eventType"].startswith("task.") for e in tasks)
    body = client_of_alice.get(f"/api/swarm/{events_of.id}/events", {"type": "no.such", "limit": 3}).json()
    assert body["events"] == [] and body["nextAfterId"] > 0 and body["hasMore"] is True


def test_bad_parameters_are_a_clear_error(client_of_alice, events_of):
    response = client_of_alice.get(f"/api/swarm/{events_of.id}/events", {"afterId": -1, "limit": 9999})
    assert response.status_code == 400
    assert {"afterId", "limit"} <= {detail["field"] for detail in response.json()["details"]}


def test_another_users_swarm_is_not_found(client_of_bob, events_of):
    assert client_of_bob.get(f"/api/swarm/{events_of.id}/events").status_code == 404


def test_a_read_key_may_read(read_only_client_of_alice, events_of):
    assert read_only_client_of_alice.get(f"/api/swarm/{events_of.id}/events").status_code == 200
