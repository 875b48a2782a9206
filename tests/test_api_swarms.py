"""Swarm endpoints: happy paths and the spec's JSON shapes."""

from __future__ import annotations

import re

import pytest

from events.models import Event
from swarms.models import Swarm
from swarms.services import swarm_create
from tests.conftest import OBJECTIVE

pytestmark = pytest.mark.django_db


def create(client, **body):
    return client.post("/api/swarm/create", {"objective": OBJECTIVE, **body}, format="json")


def test_create_returns_the_spec_shape_and_stores_the_swarm(client_of_alice, alice):
    response = create(
        client_of_alice,
        strategy="development",
        mode="centralized",
        maxAgents=5,
        timeout=300000,
        parallel=False,
        options={"includeTests": True},
    )
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"swarm_[0-9a-z]+_[0-9a-z]{9}", body["swarmId"])
    assert body["status"] == "planning"
    assert body["message"] == "Swarm created successfully"
    assert body["data"]["objective"] == OBJECTIVE
    assert body["data"]["strategy"] == "development"
    assert body["data"]["maxAgents"] == 5
    assert body["timestamp"].endswith("Z")
    swarm = Swarm.objects.get(pk=body["swarmId"])
    assert swarm.owner == alice
    assert swarm.parallel is False
    assert swarm.options == {"includeTests": True}


def test_create_applies_the_spec_defaults(client_of_alice):
    body = create(client_of_alice).json()
    swarm = Swarm.objects.get(pk=body["swarmId"])
    assert (swarm.strategy, swarm.mode, swarm.max_agents, swarm.timeout_ms, swarm.parallel) == (
        "auto",
        "centralized",
        5,
        300000,
        True,
    )


def test_create_publishes_swarm_created_and_logs_it(client_of_alice):
    swarm_id = create(client_of_alice).json()["swarmId"]
    assert list(Event.objects.filter(swarm_id=swarm_id).values_list("type", flat=True)) == [
        "swarm.created",
        "log",
    ]
    logs = client_of_alice.get(f"/api/swarm/{swarm_id}/logs").json()
    assert logs["logs"][0]["message"] == f"Creating swarm: {swarm_id}"
    assert logs["logs"][0]["source"] == "HeadlessCoordinator"


def test_get_returns_details_with_progress(client_of_alice, swarm_of_alice):
    body = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}").json()
    assert body["swarmId"] == swarm_of_alice.id
    data = body["data"]
    assert data["id"] == swarm_of_alice.id
    assert data["description"] == OBJECTIVE
    assert data["status"] == "planning"
    assert data["progress"] == {
        "totalTasks": 0,
        "completedTasks": 0,
        "failedTasks": 0,
        "runningTasks": 0,
        "percentComplete": 0,
    }
    assert data["spend"] == {"inputTokens": 0, "outputTokens": 0, "totalTokens": 0, "costUsd": 0.0}
    assert data["createdAt"].endswith("Z")


def test_progress_counts_each_status_and_a_deleted_swarm_has_none(swarm_of_alice):
    from swarms.serializers import progress_of
    from tasks.services import tasks_create

    tasks = tasks_create(
        swarm=swarm_of_alice, tasks=[{"name": f"t{n}", "description": "d"} for n in range(4)]
    )
    statuses = ("completed", "failed", "running")
    for task, status in zip(tasks, statuses, strict=False):
        type(task).objects.filter(pk=task.pk).update(status=status)
    progress = progress_of(Swarm.objects.get(pk=swarm_of_alice.pk))
    assert progress == {
        "totalTasks": 4,
        "completedTasks": 1,
        "failedTasks": 1,
        "runningTasks": 1,
        "percentComplete": 25,
    }
    Swarm.objects.filter(pk=swarm_of_alice.pk).delete()  # deleted after a request read it
    with pytest.raises(Swarm.DoesNotExist):
        progress_of(swarm_of_alice)


def test_list_is_paginated_and_filters_by_status(client_of_alice, alice):
    ids = [swarm_create(owner=alice, objective=f"{OBJECTIVE} number {i}").id for i in range(5)]
    Swarm.objects.filter(pk=ids[0]).update(status="completed")
    page = client_of_alice.get("/api/swarms?limit=2").json()
    assert page["count"] == 5
    assert [s["id"] for s in page["swarms"]] == ids[::-1][:2]
    assert "offset=2" in page["next"] and page["previous"] is None
    last = client_of_alice.get("/api/swarms?limit=2&offset=4").json()
    assert [s["id"] for s in last["swarms"]] == [ids[0]] and last["next"] is None
    done = client_of_alice.get("/api/swarms?status=completed").json()
    assert [s["id"] for s in done["swarms"]] == [ids[0]]


def test_list_rejects_a_bad_status_filter(client_of_alice):
    response = client_of_alice.get("/api/swarms?status=bogus")
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "status"


@pytest.mark.parametrize(
    ("start_status", "action", "end_status"),
    [
        ("ready", "start", "executing"),
        ("executing", "pause", "paused"),
        ("paused", "resume", "executing"),
        ("executing", "stop", "stopped"),
        ("paused", "stop", "stopped"),
        ("planning", "stop", "stopped"),
    ],
)
def test_lifecycle_commands_change_state(client_of_alice, swarm_of_alice, start_status, action, end_status):
    Swarm.objects.filter(pk=swarm_of_alice.id).update(status=start_status)
    response = client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/{action}")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["swarmId"] == swarm_of_alice.id
    assert body["status"] == end_status
    assert body["message"]
    assert Swarm.objects.get(pk=swarm_of_alice.id).status == end_status
    assert Event.objects.filter(
        swarm_id=swarm_of_alice.id,
        type=f"swarm.{ {'start': 'started', 'pause': 'paused', 'resume': 'resumed', 'stop': 'stopped'}[action] }",
    ).exists()


def test_start_during_planning_is_remembered(client_of_alice, swarm_of_alice):
    response = client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/start")
    assert response.status_code == 200
    assert response.json()["status"] == "planning"
    assert "when planning completes" in response.json()["message"]
    assert Swarm.objects.get(pk=swarm_of_alice.id).start_requested is True
    again = client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/start")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("completed", "resume", "it is completed"),
        ("completed", "start", "it is completed"),
        ("executing", "start", "already executing"),
        ("paused", "start", "use resume"),
        ("ready", "pause", "it is ready"),
        ("executing", "resume", "already executing"),
        ("stopped", "stop", "it is stopped"),
        ("failed", "pause", "it is failed"),
    ],
)
def test_illegal_transitions_are_409_with_a_clear_message(
    client_of_alice, swarm_of_alice, status, action, message
):
    Swarm.objects.filter(pk=swarm_of_alice.id).update(status=status)
    response = client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/{action}")
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"
    assert message in response.json()["message"]
    assert Swarm.objects.get(pk=swarm_of_alice.id).status == status


def test_stop_cancels_open_tasks(client_of_alice, swarm_of_alice):
    client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/tasks",
        {"name": "Write docs", "description": "Write the user documentation", "type": "custom"},
        format="json",
    )
    client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/stop")
    tasks = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/tasks").json()["tasks"]
    assert [t["status"] for t in tasks] == ["cancelled"]


def test_delete_removes_the_swarm_and_stops_it_first(client_of_alice, swarm_of_alice):
    response = client_of_alice.delete(f"/api/swarm/{swarm_of_alice.id}")
    assert response.status_code == 200
    assert response.json()["status"] == "deleted"
    assert not Swarm.objects.filter(pk=swarm_of_alice.id).exists()
    assert client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}").status_code == 404


def test_results_and_metrics_are_empty_when_nothing_ran(client_of_alice, swarm_of_alice):
    results = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/results").json()
    assert results["swarmId"] == swarm_of_alice.id
    assert results["results"]["outputs"] == {}
    assert results["results"]["artifacts"] == {}
    assert results["results"]["overallQuality"] is None
    assert results["results"]["totalExecutionTime"] == 0
    assert results["results"]["efficiency"] is None
    metrics = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/metrics").json()["metrics"]
    assert metrics["throughput"] == 0.0
    assert metrics["reliability"] is None
    assert metrics["averageQuality"] is None
    assert metrics["tokens"] == {"input": 0, "output": 0, "total": 0}
    assert metrics["resourceUtilization"]["memory"] > 0
    assert set(metrics) >= {
        "throughput",
        "latency",
        "efficiency",
        "reliability",
        "averageQuality",
        "resourceUtilization",
        "agentUtilization",
    }


def test_logs_honour_limit_and_minimum_level(client_of_alice, swarm_of_alice):
    from django.db import transaction

    from events.stream import log

    with transaction.atomic():
        for level in ("debug", "info", "warn", "error"):
            log(swarm_of_alice.id, level, "Test", f"a {level} line")
    everything = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/logs").json()
    assert everything["count"] == 5  # "Creating swarm" + 4
    warn = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/logs?level=warn").json()
    assert [entry["level"] for entry in warn["logs"]] == ["warn", "error"]
    last_two = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/logs?limit=2").json()
    assert [entry["message"] for entry in last_two["logs"]] == ["a warn line", "a error line"]
    assert last_two["logs"][0]["swarmId"] == swarm_of_alice.id
    bad = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/logs?limit=0&level=loud")
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json()["details"]} == {"limit", "level"}
