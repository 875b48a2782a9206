"""End to end on the StubBroker with worker threads: create → plan → start → completed → results."""

from __future__ import annotations

import pytest

from events.models import Event
from swarms.models import Swarm
from tasks.models import ClaudeCall, Task
from tests.conftest import OBJECTIVE
from tests.helpers import wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_planned_swarm_runs_to_completion(workers, fake_claude, client_of_alice):
    created = client_of_alice.post(
        "/api/swarm/create",
        {"objective": OBJECTIVE, "strategy": "development", "maxAgents": 3},
        format="json",
    ).json()
    swarm_id = created["swarmId"]
    wait_for_status(swarm_id, "ready")
    assert client_of_alice.post(f"/api/swarm/{swarm_id}/start").json()["status"] == "executing"
    wait_for_status(swarm_id, "completed")
    # reviews run beside the dependents, but the swarm completes only once its scores are in

    tasks = list(Task.objects.filter(swarm_id=swarm_id))
    assert tasks and all(t.status == "completed" and t.output and t.quality is not None for t in tasks)
    assert all(t.artifacts and t.artifacts[0]["path"] == "src/solution.py" for t in tasks)
    results = client_of_alice.get(f"/api/swarm/{swarm_id}/results").json()["results"]
    assert set(results["outputs"]) == {t.id for t in tasks}
    assert results["overallQuality"] == pytest.approx(0.85)
    assert results["efficiency"] == 1.0
    assert results["spend"]["totalTokens"] > 0
    metrics = client_of_alice.get(f"/api/swarm/{swarm_id}/metrics").json()["metrics"]
    assert metrics["reliability"] == 1.0 and metrics["throughput"] > 0
    # plan + (a tool loop of two turns + review) each
    assert metrics["claudeCalls"]["total"] == 1 + 3 * len(tasks)
    types = list(Event.objects.filter(swarm_id=swarm_id).values_list("type", flat=True))
    for expected in (
        "swarm.created",
        "agent.spawned",
        "task.created",
        "swarm.started",
        "task.assigned",
        "task.started",
        "task.completed",
        "swarm.completed",
    ):
        assert expected in types
    assert ClaudeCall.objects.filter(swarm_id=swarm_id, role="planner").count() == 1


def test_start_during_planning_runs_straight_through(workers, fake_claude, client_of_alice, settings):
    fake_claude.configure(latency_ms=300)
    swarm_id = client_of_alice.post("/api/swarm/create", {"objective": OBJECTIVE}, format="json").json()[
        "swarmId"
    ]
    assert client_of_alice.post(f"/api/swarm/{swarm_id}/start").json()["status"] == "planning"
    wait_for_status(swarm_id, "completed")
    assert Swarm.objects.get(pk=swarm_id).started_at is not None


def test_a_template_strategy_plans_without_claude(workers, fake_claude, client_of_alice):
    swarm_id = client_of_alice.post(
        "/api/swarm/create", {"objective": OBJECTIVE, "strategy": "microservices"}, format="json"
    ).json()["swarmId"]
    wait_for_status(swarm_id, "ready")
    assert not ClaudeCall.objects.filter(swarm_id=swarm_id, role="planner").exists()
    tasks = {t.name: t for t in Task.objects.filter(swarm_id=swarm_id)}
    assert set(tasks) == {
        "Service Architecture Design",
        "API Gateway Implementation",
        "Service Mesh Configuration",
        "Integration Testing",
    }
    testing = tasks["Integration Testing"]
    assert {d.name for d in testing.dependencies.all()} == {
        "API Gateway Implementation",
        "Service Mesh Configuration",
    }
    client_of_alice.post(f"/api/swarm/{swarm_id}/start")
    wait_for_status(swarm_id, "completed")
    order = list(Task.objects.filter(swarm_id=swarm_id).order_by("started_at").values_list("name", flat=True))
    assert order[0] == "Service Architecture Design" and order[-1] == "Integration Testing"
    assert Task.objects.get(pk=tasks["Service Mesh Configuration"].id).assigned_agent.type == "specialist"
