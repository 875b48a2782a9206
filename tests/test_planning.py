"""Planning: Claude's plan through a forced tool call, validated, repaired once, applied."""

from __future__ import annotations

import pytest

from agents.models import Agent
from engine import plans as planning
from swarms.models import Swarm
from tasks.models import ClaudeCall, Task
from tests.helpers import wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)

GOOD_PLAN = {
    "agents": [{"type": "architect", "name": "designer"}, {"type": "coder", "name": "builder"}],
    "tasks": [
        {
            "name": "Design",
            "description": "Design the API resources",
            "type": "design",
            "priority": "high",
            "agentType": "architect",
            "capabilities": ["architecture"],
            "dependencies": [],
        },
        {
            "name": "Implement",
            "description": "Implement the endpoints",
            "type": "coding",
            "priority": "normal",
            "agentType": "coder",
            "capabilities": ["codeGeneration"],
            "dependencies": [0],
        },
        {
            "name": "Document",
            "description": "Document the endpoints",
            "type": "custom",
            "priority": "low",
            "agentType": "coder",
            "dependencies": [0, 1],
        },
    ],
}


def create(client, **body):
    return client.post(
        "/api/swarm/create", {"objective": "Build a REST API for user management", **body}, format="json"
    ).json()["swarmId"]


def test_the_plan_becomes_agents_and_a_task_graph(workers, fake_claude, client_of_alice):
    fake_claude.enqueue({"tool_input": GOOD_PLAN})
    swarm_id = create(client_of_alice)
    wait_for_status(swarm_id, "ready")
    agents = dict(Agent.objects.filter(swarm_id=swarm_id).values_list("name", "type"))
    assert agents == {"designer": "architect", "builder": "coder"}
    tasks = {t.name: t for t in Task.objects.filter(swarm_id=swarm_id)}
    assert [d.name for d in tasks["Document"].dependencies.order_by("sequence")] == ["Design", "Implement"]
    assert tasks["Design"].get_priority_display() == "high"
    assert tasks["Implement"].requirements == {"capabilities": ["codeGeneration"]}
    request = fake_claude.requests[0]["body"]
    assert request["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert "Build a REST API for user management" in fake_claude.requests[0]["text"]
    assert Swarm.objects.get(pk=swarm_id).events.filter(type="swarm.planned").exists()


def test_an_invalid_plan_gets_one_repair_round_trip(workers, fake_claude, client_of_alice):
    cyclic = {
        **GOOD_PLAN,
        "tasks": [dict(t, dependencies=[(i + 1) % 3]) for i, t in enumerate(GOOD_PLAN["tasks"])],
    }
    fake_claude.enqueue({"tool_input": cyclic})
    fake_claude.enqueue({"tool_input": GOOD_PLAN})
    swarm_id = create(client_of_alice)
    wait_for_status(swarm_id, "ready")
    assert Task.objects.filter(swarm_id=swarm_id).count() == 3
    repair = fake_claude.requests[1]["body"]["messages"]
    assert repair[1]["content"][0]["type"] == "tool_use"
    result = repair[2]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True and "cycle" in result["content"]
    assert list(
        ClaudeCall.objects.filter(swarm_id=swarm_id, role="planner").values_list("revision", flat=True)
    ) == [0, 1]


def test_a_plan_invalid_twice_fails_the_swarm_with_the_reason(workers, fake_claude, client_of_alice):
    unknown = {**GOOD_PLAN, "agents": [{"type": "wizard", "name": "merlin"}]}
    fake_claude.enqueue({"tool_input": unknown})
    fake_claude.enqueue({"tool_input": unknown})
    swarm_id = create(client_of_alice)
    wait_for_status(swarm_id, "failed")
    swarm = Swarm.objects.get(pk=swarm_id)
    assert swarm.failure_reason.startswith("invalid plan:") and "wizard" in swarm.failure_reason
    assert not swarm.tasks.exists()


def test_a_planning_call_that_fails_fails_the_swarm(workers, fake_claude, client_of_alice):
    swarm_id = create(client_of_alice, objective="Build a REST API [[fake:401]] for user management")
    wait_for_status(swarm_id, "failed")
    assert Swarm.objects.get(pk=swarm_id).failure_reason.startswith("planning failed: 401")


def test_stop_during_planning_discards_the_plan(workers, fake_claude, client_of_alice):
    fake_claude.configure(latency_ms=800)
    swarm_id = create(client_of_alice)
    client_of_alice.post(f"/api/swarm/{swarm_id}/stop")
    import time

    time.sleep(1.5)
    assert Swarm.objects.get(pk=swarm_id).status == "stopped"
    assert not Task.objects.filter(swarm_id=swarm_id).exists()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"tasks": []}, "tasks must be a non-empty list"),
        ({"agents": []}, "agents must be a non-empty list"),
        ({"tasks": [dict(GOOD_PLAN["tasks"][0], dependencies=[5])]}, "not another task"),
        ({"tasks": [dict(GOOD_PLAN["tasks"][0], dependencies=[0])]}, "not another task"),
        ({"tasks": [dict(GOOD_PLAN["tasks"][0], agentType="ghost")]}, "ghost"),
        ({"agents": [{"type": "coder", "name": f"c{i}x"} for i in range(6)]}, "at most 5"),
    ],
)
def test_validation_rules(alice, change, error):
    swarm = Swarm(owner=alice, objective="x" * 20, max_agents=5)
    result, errors = planning.validate({**GOOD_PLAN, **change}, swarm)
    assert result is None and any(error in e for e in errors), errors


def test_validation_mends_what_is_cosmetic(alice):
    swarm = Swarm(owner=alice, objective="x" * 20, max_agents=5)
    data = {
        "agents": [{"type": "coder", "name": "the builder!"}],
        "tasks": [dict(GOOD_PLAN["tasks"][0], agentType="architect")],
    }
    result, errors = planning.validate(data, swarm)
    assert errors == []
    assert result.agents[0].name == "the-builder"
    assert result.tasks[0].agent_type == "coder"  # the plan had no architect
    assert result.tasks[0].capabilities == []  # a coder has no "architecture" to require
