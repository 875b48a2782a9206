"""Lists page (issue 13, item 11, in part): /tasks, /agents and /keys take limit/offset and answer
{items, count (total), limit, offset, next, previous}; /logs pages back past 1,000 lines with ?before=."""

from __future__ import annotations

import pytest

from access.services import apikey_create
from events.models import LogEntry
from tests.builders import build_swarm

pytestmark = pytest.mark.django_db


@pytest.fixture
def big(alice):
    return build_swarm(
        alice,
        agents=[("coder", f"coder-{n}") for n in range(5)],
        tasks=[{"name": f"Task {n:02d}"} for n in range(7)],
    )


def test_tasks_page_with_limit_and_offset(client_of_alice, big):
    first = client_of_alice.get(f"/api/swarm/{big.id}/tasks?limit=3").json()
    assert [t["name"] for t in first["tasks"]] == ["Task 00", "Task 01", "Task 02"]
    assert (first["count"], first["limit"], first["offset"], first["previous"]) == (7, 3, 0, None)
    assert first["next"].endswith(f"/api/swarm/{big.id}/tasks?limit=3&offset=3")
    last = client_of_alice.get(f"/api/swarm/{big.id}/tasks?limit=3&offset=6").json()
    assert [t["name"] for t in last["tasks"]] == ["Task 06"] and last["next"] is None
    assert last["previous"].endswith("limit=3&offset=3")
    everything = client_of_alice.get(f"/api/swarm/{big.id}/tasks").json()
    assert (
        len(everything["tasks"]) == everything["count"] == 7 and everything["limit"] == 100
    )  # one page by default


def test_a_filter_is_kept_in_the_page_links(client_of_alice, big):
    body = client_of_alice.get(f"/api/swarm/{big.id}/tasks?status=pending&limit=2").json()
    assert body["count"] == 7 and "status=pending" in body["next"]


def test_agents_page(client_of_alice, big):
    body = client_of_alice.get(f"/api/swarm/{big.id}/agents?limit=2&offset=2").json()
    assert [a["name"] for a in body["agents"]] == ["coder-2", "coder-3"]
    assert body["count"] == 5 and body["next"] and body["previous"]


def test_keys_page(client_of_alice, alice):
    for n in range(4):
        apikey_create(owner=alice, name=f"k{n}", permissions=["read"])
    body = client_of_alice.get("/api/keys?limit=2").json()
    assert body["count"] == 5 and len(body["keys"]) == 2 and body["keys"][0]["name"] == "k3"  # newest first


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "limit=abc"])
def test_a_bad_page_is_a_400_naming_the_parameter(client_of_alice, big, query):
    response = client_of_alice.get(f"/api/swarm/{big.id}/tasks?{query}")
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == query.split("=")[0]


def test_logs_page_back_past_a_thousand_lines(client_of_alice, big):
    LogEntry.objects.filter(swarm=big).delete()
    LogEntry.objects.bulk_create(
        LogEntry(swarm=big, level=LogEntry.Level.INFO, source="t", message=f"line {n}") for n in range(2500)
    )
    url = f"/api/swarm/{big.id}/logs?limit=1000"
    seen = []
    body = client_of_alice.get(url).json()
    while True:
        seen = [entry["message"] for entry in body["logs"]] + seen
        if body["before"] is None:
            break
        body = client_of_alice.get(f"{url}&before={body['before']}").json()
    assert seen == [f"line {n}" for n in range(2500)]  # every line once, in order
    assert client_of_alice.get(f"{url}&before=0").status_code == 400
