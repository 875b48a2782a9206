"""API docs that teach (issue 13, item 10): every operation has a summary, a clean
operationId and a resource tag, documents 503 (and 415 with a body), and every documented example is
accepted by the live endpoint."""

from __future__ import annotations

import re
import socket

import pytest
import yaml
from openapi_spec_validator import validate

from agents.models import Agent
from swarms.models import Swarm
from tasks.models import Task
from tests.builders import build_swarm

pytestmark = pytest.mark.django_db

TAGS = {
    "Swarms",
    "Agents",
    "Tasks",
    "Calls",
    "Events",
    "Workspace",
    "Results",
    "Agent types",
    "Strategies",
    "API keys",
    "Webhooks",
    "Authentication",
    "System",
}


@pytest.fixture
def schema(anon_client) -> dict:
    response = anon_client.get("/api/schema")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def operations(schema: dict):
    for path, items in schema["paths"].items():
        for method, operation in items.items():
            yield method, path, operation


def test_every_operation_has_a_summary_a_clean_id_and_a_resource_tag(schema):
    validate(schema)
    ids = []
    for method, path, operation in operations(schema):
        assert operation.get("summary"), (method, path)
        assert re.fullmatch(r"[a-z][A-Za-z0-9]*", operation["operationId"]), operation["operationId"]
        ids.append(operation["operationId"])
        assert len(operation["tags"]) == 1 and operation["tags"][0] in TAGS, (method, path, operation["tags"])
        assert "503" in operation["responses"], (method, path)
        if "requestBody" in operation:
            assert "415" in operation["responses"], (method, path)
    assert len(ids) == len(set(ids))
    create = schema["paths"]["/api/swarm/create"]["post"]
    assert create["operationId"] == "createSwarm" and create["tags"] == ["Swarms"]
    assert schema["paths"]["/api/swarm/{swarm_id}/agents"]["get"]["tags"] == ["Agents"]


PASSWORD = "correct-horse-battery-staple"  # the token example's


def test_every_operation_with_a_body_has_an_example(schema):
    for method, path, operation in operations(schema):
        if "requestBody" in operation:
            content = operation["requestBody"]["content"]["application/json"]
            assert content.get("examples"), (method, path)


@pytest.fixture
def world(alice, client_of_alice, anon_client, settings, monkeypatch):
    """What the examples' path parameters and placeholders stand for, in the state each operation
    needs: a swarm awaiting plan approval, a pending task and an agent, a task awaiting approval,
    Alice's own agent type, strategy and webhook, and a fresh refresh token per use."""
    alice.set_password(PASSWORD)
    alice.save()
    # webhooks resolve their host and refuse private addresses; these tests have no DNS, so the
    # example's host resolves to a public address here (and only that host)
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    awaiting_plan = build_swarm(alice, tasks=[{"name": "Design the API"}])
    Swarm.objects.filter(pk=awaiting_plan.pk).update(status=Swarm.Status.AWAITING_APPROVAL)
    running = build_swarm(alice, tasks=[{"name": "Design the API"}, {"name": "Write the handlers"}])
    Swarm.objects.filter(pk=running.pk).update(status=Swarm.Status.EXECUTING)
    first, second = Task.objects.filter(swarm=running).order_by("sequence")
    Task.objects.filter(pk=second.pk).update(
        status=Task.Status.AWAITING_APPROVAL, output="def handler(): ..."
    )
    agent = Agent.objects.get(swarm=running)
    for path, body in (
        (
            "/api/agent-types",
            {
                "name": "db-designer",
                "description": "Designs database schemas",
                "systemPrompt": "You are a database engineer. Design normalised, indexed schemas.",
                "capabilities": ["analysis"],
            },
        ),
        (
            "/api/strategies",
            {
                "name": "contract-first",
                "description": "Write the contract first",
                "guidance": "Start with an API contract task; implementation tasks depend on it.",
            },
        ),
    ):
        assert client_of_alice.post(path, body, format="json").status_code == 201
    webhook = client_of_alice.post(
        "/api/webhooks", {"url": "https://hooks.example.com/x", "events": ["swarm.*"]}, format="json"
    )
    assert webhook.status_code == 201, webhook.json()

    def refresh_token() -> str:
        pair = anon_client.post(
            "/api/auth/token", {"username": alice.username, "password": PASSWORD}, format="json"
        )
        return pair.json()["refresh"]

    return {
        ("post", "/api/swarm/{swarm_id}/reject"): {"swarm_id": awaiting_plan.id},
        ("post", "/api/swarm/{swarm_id}/tasks/{task_id}/assign"): {
            "swarm_id": running.id,
            "task_id": first.id,
            "agent_id": agent.id,
        },
        ("post", "/api/swarm/{swarm_id}/tasks/{task_id}/reject"): {
            "swarm_id": running.id,
            "task_id": second.id,
        },
        ("patch", "/api/agent-types/{name}"): {"name": "db-designer"},
        ("patch", "/api/strategies/{name}"): {"name": "contract-first"},
        ("patch", "/api/webhooks/{webhook_id}"): {"webhook_id": webhook.json()["data"]["id"]},
        "refresh_token": refresh_token,
    }


def fill(value, names: dict):
    """An example's `{placeholder}` strings → the world's values."""
    if isinstance(value, dict):
        return {key: fill(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, names) for item in value]
    if isinstance(value, str) and re.fullmatch(r"\{[a-z_]+\}", value):
        found = names.get(value[1:-1])
        assert found is not None, f"the test has no value for the placeholder {value}"
        return found() if callable(found) else found
    return value


def test_every_documented_example_is_accepted_by_the_live_endpoint(
    schema, client_of_alice, anon_client, swarm_of_alice, world
):
    sent = 0
    for method, path, operation in operations(schema):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        for name, example in content.get("examples", {}).items():
            names = {"swarm_id": swarm_of_alice.id, **world.get((method, path), {}), **world}
            url = re.sub(
                r"\{([a-z_]+)\}", lambda m, names=names: str(fill("{" + m.group(1) + "}", names)), path
            )
            body = fill(example["value"], names)
            client = anon_client if path.startswith("/api/auth/") else client_of_alice
            response = getattr(client, method)(url, body, format="json")
            documented = sorted(code for code in operation["responses"] if code.startswith("2"))
            assert str(response.status_code) in documented, (method, path, name, documented, response.json())
            sent += 1
    assert sent >= 16  # every operation with a body
