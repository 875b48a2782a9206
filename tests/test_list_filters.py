"""The lists' filters are django-filter FilterSets (issue 13, item 11): each filter narrows the list
and keeps its paging, a bad value is a 400 that lists the valid values (and the one meant), a bad
filter and a bad page are named in one 400, a misspelt parameter is reported rather than ignored,
and /api/schema documents every filter (with its enum) and every page or cursor parameter."""

from __future__ import annotations

import pytest
import yaml

from agents.models import Agent
from events.models import LogEntry
from swarms.models import Swarm
from swarms.services import swarm_create
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.conftest import OBJECTIVE
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db


def problems(response) -> dict[str, dict]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "Validation failed" and body["message"] == "Request is invalid"
    return {item["field"]: item for item in body["details"]}


@pytest.fixture
def swarm(alice):
    """Five tasks (two completed) and three agents (one busy)."""
    built = build_swarm(
        alice,
        agents=[("coder", f"coder-{n}") for n in range(3)],
        tasks=[{"name": f"Task {n}"} for n in range(5)],
    )
    done = Task.objects.filter(swarm=built).order_by("sequence")[:2]
    Task.objects.filter(pk__in=[t.pk for t in done]).update(status=Task.Status.COMPLETED)
    busy = Agent.objects.filter(swarm=built).order_by("created_at", "instance", "id").first()
    Agent.objects.filter(pk=busy.pk).update(status=Agent.Status.BUSY)
    return built


# --- /api/swarms ---------------------------------------------------------------------------------


def test_swarms_filter_by_status_across_pages(client_of_alice, alice):
    ids = [swarm_create(owner=alice, objective=f"{OBJECTIVE} number {n}").id for n in range(4)]
    Swarm.objects.filter(pk__in=ids[:3]).update(status=Swarm.Status.COMPLETED)
    first = client_of_alice.get("/api/swarms?status=completed&limit=2").json()
    assert first["count"] == 3 and [s["id"] for s in first["swarms"]] == [ids[2], ids[1]]
    assert "status=completed" in first["next"]
    second = client_of_alice.get(first["next"]).json()
    assert [s["id"] for s in second["swarms"]] == [ids[0]] and second["next"] is None
    assert client_of_alice.get("/api/swarms?status=planning").json()["count"] == 1


def test_an_unknown_swarm_status_lists_the_valid_ones(client_of_alice):
    found = problems(client_of_alice.get("/api/swarms?status=complete"))
    assert found["status"]["message"] == (
        "status must be one of planning, awaiting_approval, ready, executing, paused, completed, "
        'failed, stopped; got "complete" (did you mean "completed"?)'
    )
    assert found["status"]["value"] == "complete"


# --- tasks and agents: an unknown status was ignored, now it is a 400 ----------------------------


def test_tasks_filter_by_status_across_pages(client_of_alice, swarm):
    url = f"/api/swarm/{swarm.id}/tasks"
    first = client_of_alice.get(f"{url}?status=pending&limit=2").json()
    assert first["count"] == 3 and [t["name"] for t in first["tasks"]] == ["Task 2", "Task 3"]
    assert "status=pending" in first["next"] and first["previous"] is None
    last = client_of_alice.get(first["next"]).json()
    assert [t["name"] for t in last["tasks"]] == ["Task 4"] and "status=pending" in last["previous"]
    completed = client_of_alice.get(f"{url}?status=completed").json()
    assert [t["name"] for t in completed["tasks"]] == ["Task 0", "Task 1"]


def test_an_unknown_task_status_is_a_400_not_the_whole_list(client_of_alice, swarm):
    found = problems(client_of_alice.get(f"/api/swarm/{swarm.id}/tasks?status=runing"))
    assert found["status"]["message"] == (
        "status must be one of pending, assigned, running, awaiting_approval, completed, failed, "
        'cancelled; got "runing" (did you mean "running"?)'
    )


def test_agents_filter_by_status_across_pages(client_of_alice, swarm):
    url = f"/api/swarm/{swarm.id}/agents"
    idle = client_of_alice.get(f"{url}?status=idle&limit=1&offset=1").json()
    assert idle["count"] == 2 and [a["name"] for a in idle["agents"]] == ["coder-2"]
    assert idle["next"] is None and "status=idle" in idle["previous"]
    busy = client_of_alice.get(f"{url}?status=busy").json()
    assert [a["name"] for a in busy["agents"]] == ["coder-0"]


def test_an_unknown_agent_status_is_a_400(client_of_alice, swarm):
    found = problems(client_of_alice.get(f"/api/swarm/{swarm.id}/agents?status=asleep"))
    assert found["status"]["message"] == 'status must be one of idle, busy, terminated; got "asleep"'


def test_a_bad_filter_and_a_bad_page_are_named_in_one_400(client_of_alice, swarm):
    found = problems(client_of_alice.get(f"/api/swarm/{swarm.id}/tasks?status=done&limit=0&offset=-1"))
    assert set(found) == {"status", "limit", "offset"}


def test_an_empty_filter_is_no_filter(client_of_alice, swarm):
    assert client_of_alice.get(f"/api/swarm/{swarm.id}/tasks?status=").json()["count"] == 5


@pytest.mark.parametrize(
    ("path", "sent", "meant"),
    [
        ("/api/swarm/{id}/tasks", "Status", "status"),
        ("/api/swarm/{id}/agents", "limt", "limit"),
        ("/api/swarm/{id}/calls", "task_id", "taskId"),
        ("/api/swarm/{id}/events", "after_id", "afterId"),
        ("/api/swarm/{id}/logs", "levl", "level"),
        ("/api/swarms", "ofset", "offset"),
    ],
)
def test_a_misspelt_parameter_is_reported_with_the_one_meant(client_of_alice, swarm, path, sent, meant):
    found = problems(client_of_alice.get(path.format(id=swarm.id) + f"?{sent}=1"))
    assert found[sent]["message"] == f'Unknown field "{sent}"; did you mean "{meant}"?'


# --- calls, events, logs, deliveries ---------------------------------------------------------------


def test_calls_filter_by_task_across_pages(client_of_alice, swarm):
    first_task, second_task = Task.objects.filter(swarm=swarm).order_by("sequence")[:2]
    for task in (first_task, second_task, first_task, None, first_task):
        ClaudeCall.objects.create(swarm=swarm, task=task, role="agent", model="m", outcome="ok")
    url = f"/api/swarm/{swarm.id}/calls"
    page = client_of_alice.get(f"{url}?taskId={first_task.id}&limit=2").json()
    assert page["count"] == 3 and {c["taskId"] for c in page["calls"]} == {first_task.id}
    rest = client_of_alice.get(page["next"]).json()
    assert len(rest["calls"]) == 1 and rest["next"] is None
    assert client_of_alice.get(f"{url}?taskId=task_none").json()["count"] == 0
    found = problems(client_of_alice.get(f"{url}?taskId={'x' * 41}&limit=501"))
    assert set(found) == {"taskId", "limit"}
    assert found["taskId"]["message"] == "Ensure this value has at most 40 characters (it has 41)."


def test_events_filter_by_type_glob_and_the_position_moves_past_the_rest(client_of_alice, swarm):
    url = f"/api/swarm/{swarm.id}/events"
    everything = client_of_alice.get(url, {"limit": 500}).json()["events"]
    kinds = [e["eventType"] for e in everything]
    assert "agent.spawned" in kinds and "task.created" in kinds
    first = client_of_alice.get(url, {"type": "task.*", "limit": 4}).json()
    assert first["nextAfterId"] == everything[3]["eventId"] and first["hasMore"] is True
    assert [e["eventId"] for e in first["events"]] == [
        e["eventId"] for e in everything[:4] if e["eventType"].startswith("task.")
    ]
    exact = client_of_alice.get(url, {"type": "agent.spawned", "limit": 500}).json()["events"]
    assert len(exact) == 3 and {e["eventType"] for e in exact} == {"agent.spawned"}
    found = problems(client_of_alice.get(url, {"type": "t" * 61, "afterId": -1}))
    assert set(found) == {"type", "afterId"}


def test_logs_filter_by_minimum_level_with_the_before_cursor(client_of_alice, swarm):
    LogEntry.objects.filter(swarm=swarm).delete()
    levels = [LogEntry.Level.INFO, LogEntry.Level.WARN, LogEntry.Level.ERROR, LogEntry.Level.DEBUG] * 3
    LogEntry.objects.bulk_create(
        LogEntry(swarm=swarm, level=level, source="t", message=f"line {n}") for n, level in enumerate(levels)
    )
    url = f"/api/swarm/{swarm.id}/logs"
    latest = client_of_alice.get(f"{url}?level=warn&limit=4").json()
    assert [e["message"] for e in latest["logs"]] == ["line 5", "line 6", "line 9", "line 10"]
    older = client_of_alice.get(f"{url}?level=warn&limit=4&before={latest['before']}").json()
    assert [e["message"] for e in older["logs"]] == ["line 1", "line 2"] and older["before"] is None
    found = problems(client_of_alice.get(f"{url}?level=eror"))
    assert found["level"]["message"] == (
        'level must be one of debug, info, warn, error; got "eror" (did you mean "error"?)'
    )


def test_deliveries_filter_by_status_across_pages(client_of_alice, alice, swarm):
    webhook = Webhook.objects.create(owner=alice, url="https://hooks.example.com/x", secret="s" * 32)
    for n, status in enumerate(["failed", "succeeded", "failed", "failed"], start=1):
        Delivery.objects.create(
            webhook=webhook,
            event_id=n,
            event_type="swarm.started",
            swarm_id=swarm.id,
            payload={},
            status=status,
        )
    url = f"/api/webhooks/{webhook.id}/deliveries"
    page = client_of_alice.get(f"{url}?status=failed&limit=2&offset=1").json()
    assert (page["count"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [d["status"] for d in page["deliveries"]] == ["failed", "failed"]
    assert set(page) == {"deliveries", "count", "limit", "offset"}  # the log's shape: no page links
    found = problems(client_of_alice.get(f"{url}?status=lost&limit=101"))
    assert set(found) == {"status", "limit"}
    assert (
        found["status"]["message"]
        == 'status must be one of pending, succeeded, failed, cancelled; got "lost"'
    )


# --- /api/schema -----------------------------------------------------------------------------------


@pytest.fixture
def schema(anon_client) -> dict:
    return yaml.safe_load(anon_client.get("/api/schema").content)


def parameters(schema: dict, path: str) -> dict[str, dict]:
    operation = schema["paths"][path]["get"]
    return {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}


@pytest.mark.parametrize(
    ("path", "name", "enum"),
    [
        ("/api/swarms", "status", Swarm.Status.values),
        ("/api/swarm/{swarm_id}/tasks", "status", Task.Status.values),
        ("/api/swarm/{swarm_id}/agents", "status", Agent.Status.values),
        ("/api/swarm/{swarm_id}/logs", "level", ["debug", "info", "warn", "error"]),
        ("/api/webhooks/{webhook_id}/deliveries", "status", Delivery.Status.values),
        ("/api/swarm/{swarm_id}/calls", "taskId", None),
        ("/api/swarm/{swarm_id}/events", "type", None),
    ],
)
def test_the_schema_documents_each_filter_with_its_enum(schema, path, name, enum):
    documented = parameters(schema, path)[name]
    assert documented["schema"]["type"] == "string" and documented.get("required", False) is False
    assert documented["description"]
    if enum is None:
        assert "enum" not in documented["schema"]
    else:
        assert sorted(documented["schema"]["enum"]) == sorted(enum)


@pytest.mark.parametrize(
    ("path", "window"),
    [
        ("/api/swarms", {"limit": (1, 100, 20), "offset": (0, 1_000_000_000, 0)}),
        ("/api/swarm/{swarm_id}/tasks", {"limit": (1, 500, 100), "offset": (0, 1_000_000_000, 0)}),
        ("/api/swarm/{swarm_id}/agents", {"limit": (1, 500, 100), "offset": (0, 1_000_000_000, 0)}),
        ("/api/swarm/{swarm_id}/calls", {"limit": (1, 500, 100), "offset": (0, 1_000_000_000, 0)}),
        ("/api/webhooks/{webhook_id}/deliveries", {"limit": (1, 100, 20), "offset": (0, 1_000_000_000, 0)}),
        ("/api/keys", {"limit": (1, 500, 100), "offset": (0, 1_000_000_000, 0)}),
        ("/api/swarm/{swarm_id}/logs", {"limit": (1, 1000, 100), "before": (1, 2**63 - 1, None)}),
        ("/api/swarm/{swarm_id}/events", {"limit": (1, 500, 100), "afterId": (0, None, 0)}),
    ],
)
def test_the_schema_documents_each_page_and_cursor_parameter_with_its_bounds(schema, path, window):
    documented = parameters(schema, path)
    for name, (low, high, default) in window.items():
        parameter = documented[name]["schema"]
        assert parameter["type"] == "integer", (path, name)
        assert (parameter.get("minimum"), parameter.get("maximum"), parameter.get("default")) == (
            low,
            high,
            default,
        ), (path, name)
