"""The documented response schemas match what the live endpoints answer (issue 13, item 10): a real
swarm run to completion by the workers, its results and metrics, the swarm itself (typed options),
a terminated agent and the readiness probe are each validated against /api/schema. The schema is
made strict first (no undocumented keys), so a key the code adds without documenting it fails here."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from openapi_schema_validator import validate as validate_instance

from tests.conftest import OBJECTIVE
from tests.helpers import wait_for_status


def strict(node: Any) -> Any:
    """Every object schema with properties refuses keys it does not list (maps stay maps).

    drf-spectacular writes a nullable nested object as `{allOf: [ref], nullable: true}`; the
    validator applies `nullable` only beside a `type`, so that reading is spelled out here."""
    if isinstance(node, dict):
        node = {key: strict(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        if node.get("nullable") is True and "allOf" in node and "type" not in node:
            rest = {key: value for key, value in node.items() if key not in ("allOf", "nullable")}
            node = {**rest, "anyOf": [{"allOf": node["allOf"]}, {"enum": [None]}]}
        return node
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


def fetch_schema(client: Any) -> dict[str, Any]:
    response = client.get("/api/schema")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def response_schema(schema: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    documented = schema["paths"][path][method]["responses"][str(status)]
    body = documented["content"]["application/json"]["schema"]
    # refs resolve against this document, which carries the (strict) components
    return {"allOf": [body], "components": strict(copy.deepcopy(schema["components"]))}


def check(schema: dict[str, Any], method: str, path: str, response: Any) -> dict[str, Any]:
    body = response.json()
    validate_instance(body, response_schema(schema, method, path, response.status_code), cls=OAS30Validator)
    return body


def test_the_typed_components_leave_nothing_free_form(anon_client, db):
    components = fetch_schema(anon_client)["components"]["schemas"]
    assert components["SwarmResults"]["properties"]["results"] == {"$ref": "#/components/schemas/Results"}
    assert components["SwarmMetrics"]["properties"]["metrics"] == {"$ref": "#/components/schemas/Metrics"}
    assert components["Swarm"]["properties"]["options"] == {"$ref": "#/components/schemas/SwarmOptions"}
    assert components["Plan"]["properties"]["tasks"]["items"] == {"$ref": "#/components/schemas/PlanTask"}
    assert set(components["SwarmOptions"]["properties"]) == {
        "budget",
        "review",
        "approvePlan",
        "includeTests",
        "includeDocumentation",
        "verbosity",
        "languages",
        "notes",
    }
    checks = components["Checks"]["properties"]
    assert set(checks) == {"database", "redis", "broker"}
    for name in (
        "Results",
        "Metrics",
        "ResultsSpend",
        "Checks",
        "Ready",
        "SwarmOptions",
        "Plan",
        "SwarmCreated",
    ):
        for field, spec in components[name]["properties"].items():
            assert spec.get("additionalProperties") not in ({}, True), (name, field)


@pytest.mark.django_db(transaction=True)
def test_a_completed_swarm_answers_as_documented(workers, fake_claude, client_of_alice):
    schema = fetch_schema(client_of_alice)
    created = client_of_alice.post(
        "/api/swarm/create",
        {
            "objective": OBJECTIVE,
            "strategy": "development",
            "maxAgents": 3,
            "options": {"review": True, "verbosity": "normal", "budget": {"maxCostUsd": 5}},
        },
        format="json",
    )
    check(schema, "post", "/api/swarm/create", created)
    swarm_id = created.json()["swarmId"]
    wait_for_status(swarm_id, "ready")
    client_of_alice.post(f"/api/swarm/{swarm_id}/start")
    wait_for_status(swarm_id, "completed")

    results = check(
        schema, "get", "/api/swarm/{swarm_id}/results", client_of_alice.get(f"/api/swarm/{swarm_id}/results")
    )["results"]
    # a real run fills every part that can be empty: the schema was checked against real values
    assert results["outputs"] and results["artifacts"] and results["workspace"]
    assert (
        results["spend"]["byTask"] and results["spend"]["byAgent"] and results["overallQuality"] is not None
    )
    metrics = check(
        schema, "get", "/api/swarm/{swarm_id}/metrics", client_of_alice.get(f"/api/swarm/{swarm_id}/metrics")
    )["metrics"]
    assert metrics["reliability"] == 1.0 and metrics["latency"] is not None
    swarm = check(schema, "get", "/api/swarm/{swarm_id}", client_of_alice.get(f"/api/swarm/{swarm_id}"))
    assert swarm["data"]["options"]["budget"] == {"maxCostUsd": 5}
    plan = swarm["data"]["plan"]
    assert plan["agents"] and plan["tasks"] and plan["estimatedCost"]["highUsd"] > 0
    check(schema, "get", "/api/swarms", client_of_alice.get("/api/swarms"))
    for part in ("agents", "tasks", "logs", "calls", "workspace", "events"):
        check(
            schema,
            "get",
            f"/api/swarm/{{swarm_id}}/{part}",
            client_of_alice.get(f"/api/swarm/{swarm_id}/{part}"),
        )


@pytest.mark.django_db
def test_the_schema_check_catches_an_undocumented_key(anon_client):
    """The strict schema is what makes the test above meaningful: an extra key fails."""
    schema = fetch_schema(anon_client)
    body = anon_client.get("/api/ready").json()
    documented = response_schema(schema, "get", "/api/ready", 200)
    validate_instance(body, documented, cls=OAS30Validator)
    with pytest.raises(Exception, match="Additional properties"):
        validate_instance({**body, "surprise": 1}, documented, cls=OAS30Validator)
    broken = copy.deepcopy(body)
    broken["checks"]["database"]["ok"] = "yes"
    with pytest.raises(Exception, match="is not of type 'boolean'"):
        validate_instance(broken, documented, cls=OAS30Validator)


@pytest.mark.django_db
def test_readiness_answers_as_documented_to_operators_and_to_anyone(anon_client):
    schema = fetch_schema(anon_client)
    operator = check(schema, "get", "/api/ready", anon_client.get("/api/ready"))  # a local request
    assert operator["checks"]["database"]["ok"] is True
    public = anon_client.get("/api/ready", REMOTE_ADDR="203.0.113.9")
    assert "checks" not in check(schema, "get", "/api/ready", public)


@pytest.mark.django_db
def test_terminating_an_agent_answers_as_documented(client_of_alice, swarm_of_alice):
    schema = fetch_schema(client_of_alice)
    operation = schema["paths"]["/api/swarm/{swarm_id}/agents/{agent_id}"]["delete"]
    assert "content" in operation["responses"]["200"], "the DELETE documents its answer"
    spawned = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/agents", {"type": "coder", "name": "doomed"}, format="json"
    )
    check(schema, "post", "/api/swarm/{swarm_id}/agents", spawned)
    agent_id = spawned.json()["agentId"]
    terminated = client_of_alice.delete(f"/api/swarm/{swarm_of_alice.id}/agents/{agent_id}")
    body = check(schema, "delete", "/api/swarm/{swarm_id}/agents/{agent_id}", terminated)
    assert body["status"] == "terminated" and body["data"]["status"] == "terminated"


@pytest.mark.django_db
def test_a_swarm_before_any_work_answers_as_documented(client_of_alice, swarm_of_alice):
    """Before a task finished, several figures are null: the schema says they may be."""
    schema = fetch_schema(client_of_alice)
    base = f"/api/swarm/{swarm_of_alice.id}"
    results = check(schema, "get", "/api/swarm/{swarm_id}/results", client_of_alice.get(f"{base}/results"))
    assert results["results"]["overallQuality"] is None and results["results"]["efficiency"] is None
    metrics = check(schema, "get", "/api/swarm/{swarm_id}/metrics", client_of_alice.get(f"{base}/metrics"))
    assert metrics["metrics"]["reliability"] is None and metrics["metrics"]["latency"] is None
    detail = check(schema, "get", "/api/swarm/{swarm_id}", client_of_alice.get(base))
    assert detail["data"]["plan"]["estimatedCost"] is None


@pytest.mark.django_db
def test_an_unready_server_answers_as_documented(anon_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the redis check fails
    schema = fetch_schema(anon_client)
    response = anon_client.get("/api/ready")
    assert response.status_code == 503
    body = check(schema, "get", "/api/ready", response)
    assert body["status"] == "unavailable" and body["down"] == ["redis"]
    assert body["checks"]["redis"]["ok"] is False and body["checks"]["redis"]["detail"]


@pytest.mark.django_db
def test_errors_answer_as_documented(client_of_alice, swarm_of_alice, anon_client):
    schema = fetch_schema(client_of_alice)
    bad = client_of_alice.post(
        "/api/swarm/create", {"objective": "short", "strategy": "nope", "maxAgents": 0}, format="json"
    )
    assert bad.status_code == 400
    body = check(schema, "post", "/api/swarm/create", bad)
    assert {item["field"] for item in body["details"]} >= {"objective", "strategy", "maxAgents"}
    check(schema, "get", "/api/swarm/{swarm_id}", client_of_alice.get("/api/swarm/swarm_missing"))
    check(schema, "get", "/api/swarm/{swarm_id}", anon_client.get(f"/api/swarm/{swarm_of_alice.id}"))


@pytest.mark.django_db
def test_a_task_added_by_hand_answers_as_documented(client_of_alice, swarm_of_alice):
    schema = fetch_schema(client_of_alice)
    added = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/tasks",
        {
            "name": "Write the API documentation",
            "description": "Document every endpoint with an example request and response",
            "type": "custom",
            "requirements": {"capabilities": ["documentation"], "permissions": ["read", "write"]},
        },
        format="json",
    )
    check(schema, "post", "/api/swarm/{swarm_id}/tasks", added)
    listed = check(
        schema,
        "get",
        "/api/swarm/{swarm_id}/tasks",
        client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/tasks"),
    )
    assert listed["tasks"][0]["requirements"]["permissions"] == ["read", "write"]


@pytest.mark.django_db
def test_system_stats_answer_as_documented(client_of_alice, swarm_of_alice):
    schema = fetch_schema(client_of_alice)
    stats = check(schema, "get", "/api/system/stats", client_of_alice.get("/api/system/stats"))
    assert stats["server"]["activeSwarms"] >= 1 and stats["system"]["memory"]["rss"] > 0
