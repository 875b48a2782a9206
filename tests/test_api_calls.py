"""Issue 10, prompt trace API: a swarm's calls (paged, by task) and one call's full trace,
owner-only like every swarm object."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from swarms.services import swarm_add_task
from tasks.models import ClaudeCall

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def traced(swarm_of_alice):
    task = swarm_add_task(
        swarm_id=swarm_of_alice.id, name="A task", description="Do something useful", type="coding"
    )
    planner = ClaudeCall.objects.create(
        swarm=swarm_of_alice, role="planner", model="claude-sonnet-5-5", outcome="ok", input_tokens=900
    )
    agent = ClaudeCall.objects.create(
        swarm=swarm_of_alice,
        task=task,
        role="agent",
        model="claude-sonnet-5-5",
        outcome="ok",
        attempt=1,
        turn=2,
        input_tokens=120,
        output_tokens=80,
        cache_read_input_tokens=2000,
        cache_creation_input_tokens=0,
        cost_usd=Decimal("0.001960"),
        latency_ms=1234,
        request={
            "model": "claude-sonnet-5-5",
            "max_tokens": 4096,
            "system": "You code.",
            "messages": [{"role": "user", "content": HOSTILE}],
        },  # fmt: skip
        trace_response={
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "write_file", "input": {"path": "a.py"}}
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 120, "output_tokens": 80},
        },
        response={"text": "", "tool_input": {"path": "a.py"}, "tool_use_id": "toolu_1"},
    )
    return swarm_of_alice, task, planner, agent


def test_the_list_shows_every_call_with_its_tokens_cost_and_outcome(client_of_alice, traced):
    swarm, task, planner, agent = traced
    body = client_of_alice.get(f"/api/swarm/{swarm.id}/calls").json()
    assert body["count"] == 2 and body["next"] is None
    assert [c["id"] for c in body["calls"]] == [planner.id, agent.id]
    row = body["calls"][1]
    assert row == {
        "id": agent.id,
        "role": "agent",
        "taskId": task.id,
        "agentId": None,
        "revision": 0,
        "attempt": 1,
        "turn": 2,
        "model": "claude-sonnet-5-5",
        "inputTokens": 120,
        "outputTokens": 80,
        "cacheReadTokens": 2000,
        "cacheCreationTokens": 0,
        "estimated": False,
        "costUsd": 0.00196,
        "latencyMs": 1234,
        "outcome": "ok",
        "errorType": "",
        "createdAt": row["createdAt"],
    }
    assert "request" not in row and "response" not in row  # the list stays light


def test_the_list_filters_by_task_and_pages(client_of_alice, traced):
    swarm, task, planner, agent = traced
    only = client_of_alice.get(f"/api/swarm/{swarm.id}/calls?taskId={task.id}").json()
    assert [c["id"] for c in only["calls"]] == [agent.id]
    first = client_of_alice.get(f"/api/swarm/{swarm.id}/calls?limit=1").json()
    assert [c["id"] for c in first["calls"]] == [planner.id] and first["count"] == 2
    second = client_of_alice.get(first["next"]).json()
    assert [c["id"] for c in second["calls"]] == [agent.id] and second["next"] is None
    bad = client_of_alice.get(f"/api/swarm/{swarm.id}/calls?limit=0")
    assert bad.status_code == 400 and bad.json()["error"]


def test_the_list_does_not_query_per_call(client_of_alice, traced, django_assert_max_num_queries):
    swarm, task, *_ = traced
    for _ in range(20):
        ClaudeCall.objects.create(swarm=swarm, task=task, role="agent", model="m", outcome="ok")
    with django_assert_max_num_queries(8):
        assert client_of_alice.get(f"/api/swarm/{swarm.id}/calls").json()["count"] == 22


def test_the_detail_is_the_full_trace(client_of_alice, traced):
    swarm, task, planner, agent = traced
    response = client_of_alice.get(f"/api/swarm/{swarm.id}/calls/{agent.id}")
    assert response.status_code == 200
    call = response.json()["call"]
    assert call["request"]["messages"] == [{"role": "user", "content": HOSTILE}]
    assert call["response"]["content"][0]["name"] == "write_file"
    assert call["response"]["stop_reason"] == "tool_use"
    assert (call["truncated"], call["turn"], call["taskId"]) == (False, 2, task.id)
    assert response["content-type"] == "application/json"


def test_a_call_without_a_stored_trace_says_so_with_nulls(client_of_alice, traced):
    swarm, _, planner, _ = traced
    call = client_of_alice.get(f"/api/swarm/{swarm.id}/calls/{planner.id}").json()["call"]
    assert (call["request"], call["response"]) == (None, None)


def test_a_read_key_may_read_the_calls(read_only_client_of_alice, traced):
    swarm, _, _, agent = traced
    assert read_only_client_of_alice.get(f"/api/swarm/{swarm.id}/calls").status_code == 200
    assert read_only_client_of_alice.get(f"/api/swarm/{swarm.id}/calls/{agent.id}").status_code == 200


def test_an_outsider_gets_404_for_the_list_and_the_trace(client_of_bob, traced):
    swarm, _, _, agent = traced
    for url in (f"/api/swarm/{swarm.id}/calls", f"/api/swarm/{swarm.id}/calls/{agent.id}"):
        response = client_of_bob.get(url)
        assert response.status_code == 404 and response.json()["error"] == "Not found"
        assert HOSTILE not in response.content.decode()


@pytest.mark.parametrize("call_id", ["999999999", "abc", "-1", "١", "99999999999999999999999"])
def test_an_unknown_call_id_is_a_json_404(client_of_alice, traced, call_id):
    swarm = traced[0]
    response = client_of_alice.get(f"/api/swarm/{swarm.id}/calls/{call_id}")
    assert response.status_code == 404 and response.json()["error"] == "Not found"


def test_another_swarms_call_under_this_swarm_is_404(client_of_alice, traced, alice):
    from swarms.services import swarm_create

    swarm, _, _, agent = traced
    other = swarm_create(owner=alice, objective="Another objective entirely", strategy="auto", max_agents=2)
    assert client_of_alice.get(f"/api/swarm/{other.id}/calls/{agent.id}").status_code == 404


def test_the_schema_documents_the_calls_endpoints(anon_client):
    schema = yaml.safe_load(anon_client.get("/api/schema").content)
    assert "/api/swarm/{swarm_id}/calls" in schema["paths"]
    assert "/api/swarm/{swarm_id}/calls/{call_id}" in schema["paths"]
    listed = schema["components"]["schemas"]["Call"]["properties"]
    assert {"cacheReadTokens", "cacheCreationTokens", "turn", "costUsd"} <= set(listed)
