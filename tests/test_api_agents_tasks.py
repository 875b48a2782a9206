"""Agent and task endpoints: happy paths, shapes and their 409s."""

from __future__ import annotations

import pytest

from agents.models import Agent
from events.models import Event
from swarms.models import Swarm
from tasks.models import Task

pytestmark = pytest.mark.django_db


def spawn(client, swarm, **body):
    return client.post(f"/api/swarm/{swarm.id}/agents", {"type": "coder", **body}, format="json")


def add_task(client, swarm, **body):
    payload = {
        "name": "Implement Authentication",
        "description": "Implement JWT authentication system",
        "type": "coding",
        **body,
    }
    return client.post(f"/api/swarm/{swarm.id}/tasks", payload, format="json")


def test_spawn_agent_returns_it_with_registry_capabilities(client_of_alice, swarm_of_alice):
    response = spawn(
        client_of_alice,
        swarm_of_alice,
        name="backend-developer",
        capabilities={"languages": ["python"], "frameworks": ["django"]},
    )
    assert response.status_code == 201
    body = response.json()
    agent = body["data"]
    assert body["agentId"] == agent["id"]["id"]
    assert agent["id"] == {
        "id": body["agentId"],
        "swarmId": swarm_of_alice.id,
        "type": "coder",
        "instance": 1,
    }
    assert agent["name"] == "backend-developer"
    assert agent["status"] == "idle"
    assert agent["capabilities"]["codeGeneration"] is True
    assert agent["capabilities"]["languages"] == ["python"]
    assert agent["metrics"] == {
        "tasksCompleted": 0,
        "tasksFailed": 0,
        "successRate": None,
        "averageExecutionTime": None,
        "totalExecutionTime": 0,
    }
    assert Event.objects.filter(swarm=swarm_of_alice, type="agent.spawned").count() == 1


def test_instances_count_per_type(client_of_alice, swarm_of_alice):
    spawn(client_of_alice, swarm_of_alice)
    second = spawn(client_of_alice, swarm_of_alice).json()["data"]
    other = spawn(client_of_alice, swarm_of_alice, type="tester").json()["data"]
    assert (second["id"]["instance"], second["name"]) == (2, "coder-2")
    assert other["id"]["instance"] == 1


def test_custom_agent_types_from_the_spec_are_accepted(client_of_alice, swarm_of_alice):
    body = spawn(client_of_alice, swarm_of_alice, type="security-auditor").json()["data"]
    assert body["capabilities"] == {
        "securityAnalysis": True,
        "vulnerabilityScanning": True,
        "penetrationTesting": True,
        "codeReview": True,
    }


def test_list_and_get_agents(client_of_alice, swarm_of_alice):
    agent_id = spawn(client_of_alice, swarm_of_alice).json()["agentId"]
    listing = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/agents").json()
    assert listing["swarmId"] == swarm_of_alice.id
    assert listing["count"] == 1 and listing["agents"][0]["id"]["id"] == agent_id
    detail = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/agents/{agent_id}").json()
    assert detail["data"]["id"]["id"] == agent_id


def test_terminate_agent_then_again_is_409(client_of_alice, swarm_of_alice):
    agent_id = spawn(client_of_alice, swarm_of_alice).json()["agentId"]
    response = client_of_alice.delete(f"/api/swarm/{swarm_of_alice.id}/agents/{agent_id}")
    assert response.status_code == 200 and response.json()["status"] == "terminated"
    assert Agent.objects.get(pk=agent_id).terminated_at is not None
    again = client_of_alice.delete(f"/api/swarm/{swarm_of_alice.id}/agents/{agent_id}")
    assert again.status_code == 409


def test_spawning_past_max_agents_is_refused(client_of_alice, swarm_of_alice):
    Swarm.objects.filter(pk=swarm_of_alice.id).update(max_agents=2)
    assert spawn(client_of_alice, swarm_of_alice).status_code == 201
    assert spawn(client_of_alice, swarm_of_alice).status_code == 201
    third = spawn(client_of_alice, swarm_of_alice)
    assert third.status_code == 409
    assert third.json()["error"] == "Limit exceeded"
    assert "maximum is 2" in third.json()["message"]


def test_no_agents_in_a_finished_swarm(client_of_alice, swarm_of_alice):
    Swarm.objects.filter(pk=swarm_of_alice.id).update(status="completed")
    response = spawn(client_of_alice, swarm_of_alice)
    assert response.status_code == 409 and "completed" in response.json()["message"]


def test_create_task_returns_it_in_the_spec_shape(client_of_alice, swarm_of_alice):
    response = add_task(
        client_of_alice,
        swarm_of_alice,
        priority="high",
        requirements={"capabilities": ["codeGeneration"], "tools": ["git"], "permissions": ["read", "write"]},
    )
    assert response.status_code == 201
    task = response.json()["data"]
    assert task["id"] == {
        "id": response.json()["taskId"],
        "swarmId": swarm_of_alice.id,
        "sequence": 1,
        "priority": 3,
    }
    assert task["priority"] == "high"
    assert task["status"] == "pending"
    assert task["assignedTo"] is None and task["result"] is None
    assert task["requirements"] == {
        "capabilities": ["codeGeneration"],
        "tools": ["git"],
        "permissions": ["read", "write"],
    }


def test_task_requirements_default_like_the_spec(client_of_alice, swarm_of_alice):
    task = add_task(client_of_alice, swarm_of_alice).json()["data"]
    assert task["requirements"] == {"capabilities": [], "tools": [], "permissions": ["read"]}
    assert task["priority"] == "normal"


def test_task_dependencies_must_be_in_the_same_swarm(client_of_alice, swarm_of_alice, alice):
    from swarms.services import swarm_create

    first = add_task(client_of_alice, swarm_of_alice).json()["taskId"]
    second = add_task(client_of_alice, swarm_of_alice, dependencies=[first]).json()["data"]
    assert second["dependencies"] == [first]
    other = swarm_create(owner=alice, objective="Another objective entirely")
    foreign = add_task(client_of_alice, other).json()["taskId"]
    response = add_task(client_of_alice, swarm_of_alice, dependencies=[foreign])
    assert response.status_code == 409
    assert foreign in response.json()["message"]


def test_list_tasks_with_status_filter(client_of_alice, swarm_of_alice):
    first = add_task(client_of_alice, swarm_of_alice).json()["taskId"]
    add_task(client_of_alice, swarm_of_alice, name="Second task")
    Task.objects.filter(pk=first).update(
        status="completed", output="done", quality=0.9, execution_time_ms=1200
    )
    body = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/tasks?status=completed").json()
    assert body["count"] == 1
    assert body["tasks"][0]["result"] == {
        "output": "done",
        "artifacts": [],
        "quality": 0.9,
        "executionTime": 1200,
    }


def test_assign_pins_a_task_to_an_agent(client_of_alice, swarm_of_alice):
    task_id = add_task(
        client_of_alice, swarm_of_alice, requirements={"capabilities": ["codeGeneration"]}
    ).json()["taskId"]
    agent_id = spawn(client_of_alice, swarm_of_alice).json()["agentId"]
    response = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/tasks/{task_id}/assign", {"agentId": agent_id}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["agentId"] == agent_id
    task = Task.objects.get(pk=task_id)
    assert task.assigned_agent_id == agent_id and task.pinned


def test_assign_to_an_agent_without_the_capabilities_is_409(client_of_alice, swarm_of_alice):
    task_id = add_task(client_of_alice, swarm_of_alice, requirements={"capabilities": ["testing"]}).json()[
        "taskId"
    ]
    agent_id = spawn(client_of_alice, swarm_of_alice, type="architect").json()["agentId"]
    response = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/tasks/{task_id}/assign", {"agentId": agent_id}, format="json"
    )
    assert response.status_code == 409 and "testing" in response.json()["message"]


def test_assigning_a_task_of_another_swarm_is_409(client_of_alice, swarm_of_alice, alice):
    from swarms.services import swarm_create

    other = swarm_create(owner=alice, objective="Another objective entirely")
    foreign_task = add_task(client_of_alice, other).json()["taskId"]
    agent_id = spawn(client_of_alice, swarm_of_alice).json()["agentId"]
    response = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/tasks/{foreign_task}/assign", {"agentId": agent_id}, format="json"
    )
    assert response.status_code == 409
    assert "another swarm" in response.json()["message"]
    foreign_agent = spawn(client_of_alice, other).json()["agentId"]
    own_task = add_task(client_of_alice, swarm_of_alice).json()["taskId"]
    response = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/tasks/{own_task}/assign", {"agentId": foreign_agent}, format="json"
    )
    assert response.status_code == 409


def test_assigning_a_running_task_is_409(client_of_alice, swarm_of_alice):
    task_id = add_task(client_of_alice, swarm_of_alice).json()["taskId"]
    agent_id = spawn(client_of_alice, swarm_of_alice).json()["agentId"]
    Task.objects.filter(pk=task_id).update(status="running")
    response = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/tasks/{task_id}/assign", {"agentId": agent_id}, format="json"
    )
    assert response.status_code == 409 and "running" in response.json()["message"]


def test_list_endpoints_stay_within_a_query_budget(
    client_of_alice, swarm_of_alice, django_assert_max_num_queries
):
    Swarm.objects.filter(pk=swarm_of_alice.id).update(max_agents=10)
    for _ in range(6):
        spawn(client_of_alice, swarm_of_alice, type="tester")
    ids = [
        add_task(client_of_alice, swarm_of_alice, name=f"Task number {i}").json()["taskId"] for i in range(8)
    ]
    for later, earlier in zip(ids[1:], ids, strict=False):
        Task.objects.get(pk=later).dependencies.add(earlier)
    Task.objects.filter(pk__in=ids[:4]).update(assigned_agent=Agent.objects.first())
    # auth (key lookup + usage update) + swarm + rows (+ prefetch) — independent of the row count
    with django_assert_max_num_queries(6):
        assert client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/tasks").json()["count"] == 8
    with django_assert_max_num_queries(5):
        assert client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/agents").json()["count"] == 6
    with django_assert_max_num_queries(5):
        assert client_of_alice.get("/api/swarms").json()["count"] == 1
