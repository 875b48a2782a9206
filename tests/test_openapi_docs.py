"""API docs that teach (issue 13, item 10, in part): every operation has a summary, a clean
operationId and a resource tag, documents 503 (and 415 with a body), and every documented example is
accepted by the live endpoint."""

from __future__ import annotations

import re

import pytest
import yaml
from openapi_spec_validator import validate

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


def test_every_documented_example_is_accepted_by_the_live_endpoint(schema, client_of_alice, swarm_of_alice):
    sent = 0
    for method, path, operation in operations(schema):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        for name, example in content.get("examples", {}).items():
            url = path.replace("{swarm_id}", swarm_of_alice.id)
            assert "{" not in url, f"no value for a parameter of {path}"
            response = getattr(client_of_alice, method)(url, example["value"], format="json")
            assert 200 <= response.status_code < 300, (method, path, name, response.json())
            sent += 1
    assert sent >= 6  # create swarm, add task, spawn agent, create key, agent type, strategy
