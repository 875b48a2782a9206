"""The spec's validation rules, the error body, and no mass assignment."""

from __future__ import annotations

import pytest

from swarms.models import Swarm
from tests.conftest import OBJECTIVE

pytestmark = pytest.mark.django_db


def create(client, body):
    return client.post("/api/swarm/create", body, format="json")


def details(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "Validation failed"
    return {d["field"]: d for d in body["details"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "objective"),
        ({"objective": "too short"}, "objective"),
        ({"objective": "x" * 2001}, "objective"),
        ({"objective": "Build a thing\x00 with a NUL"}, "objective"),
        ({"objective": "Build a thing \x1b[31m in red"}, "objective"),
        ({"objective": OBJECTIVE, "strategy": "magic"}, "strategy"),
        ({"objective": OBJECTIVE, "mode": "anarchy"}, "mode"),
        ({"objective": OBJECTIVE, "maxAgents": 0}, "maxAgents"),
        ({"objective": OBJECTIVE, "maxAgents": 51}, "maxAgents"),
        ({"objective": OBJECTIVE, "maxAgents": 2.5}, "maxAgents"),
        ({"objective": OBJECTIVE, "maxAgents": "5"}, "maxAgents"),
        ({"objective": OBJECTIVE, "timeout": 29999}, "timeout"),
        ({"objective": OBJECTIVE, "timeout": 3600001}, "timeout"),
        ({"objective": OBJECTIVE, "parallel": "yes"}, "parallel"),
        ({"objective": OBJECTIVE, "options": ["not", "an", "object"]}, "options"),
        ({"objective": OBJECTIVE, "options": {"budget": {"maxTokens": 0}}}, "options.budget.maxTokens"),
        ({"objective": OBJECTIVE, "options": {"budget": "lots"}}, "options.budget"),
        ({"objective": OBJECTIVE, "options": {"review": "no"}}, "options.review"),
    ],
)
def test_swarm_create_rules(client_of_alice, body, field):
    found = details(create(client_of_alice, body))
    assert field in found, found
    assert found[field]["message"]
    assert Swarm.objects.count() == 0


def test_errors_carry_the_rejected_value(client_of_alice):
    found = details(create(client_of_alice, {"objective": OBJECTIVE, "maxAgents": 99, "mode": "anarchy"}))
    assert found["maxAgents"]["value"] == 99
    assert found["mode"]["value"] == "anarchy"


def test_max_agents_is_capped_by_the_deployment(client_of_alice, settings):
    settings.MAX_AGENTS_PER_SWARM = 3
    found = details(create(client_of_alice, {"objective": OBJECTIVE, "maxAgents": 4}))
    assert "maximum of 3" in found["maxAgents"]["message"]
    assert create(client_of_alice, {"objective": OBJECTIVE, "maxAgents": 3}).status_code == 201


@pytest.mark.parametrize(
    "objective",
    [
        "Construire une API REST pour la gestion des utilisateurs",
        "ユーザー管理のためのREST APIを構築する",
        'Build an API: users & roles (v2) — with émojis 🚀, quotes "like this" and a\nsecond line',
    ],
)
def test_any_printable_unicode_objective_is_accepted(client_of_alice, objective):
    response = create(client_of_alice, {"objective": objective})
    assert response.status_code == 201
    assert Swarm.objects.get(pk=response.json()["swarmId"]).objective == objective.strip()


def test_template_strategies_are_valid(client_of_alice):
    for strategy in ("microservices", "ai-training", "security-audit"):
        assert create(client_of_alice, {"objective": OBJECTIVE, "strategy": strategy}).status_code == 201


def test_bad_json_is_a_clear_400(client_of_alice):
    response = client_of_alice.post("/api/swarm/create", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "Invalid JSON"


def test_a_json_array_body_is_a_validation_error(client_of_alice):
    found = details(create(client_of_alice, ["objective"]))
    assert "body" in found


def test_unknown_fields_are_ignored_never_written(client_of_alice, bob):
    response = create(
        client_of_alice,
        {
            "objective": OBJECTIVE,
            "status": "completed",
            "owner": bob.pk,
            "owner_id": bob.pk,
            "id": "swarm_mine",
            "failure_reason": "x",
            "input_tokens": 5,
            "cost_usd": "9.99",
            "startRequested": True,
            "start_requested": True,
        },
    )
    assert response.status_code == 201
    swarm = Swarm.objects.get(pk=response.json()["swarmId"])
    assert swarm.id != "swarm_mine"
    assert (
        swarm.status,
        swarm.owner.username,
        swarm.failure_reason,
        swarm.input_tokens,
        swarm.start_requested,
    ) == ("planning", "alice", "", 0, False)


def test_task_mass_assignment_is_ignored(client_of_alice, swarm_of_alice):
    response = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/tasks",
        {
            "name": "Write it",
            "description": "Write the whole thing",
            "type": "coding",
            "status": "completed",
            "output": "pwned",
            "quality": 1,
            "attempts": 9,
            "swarm": "other",
            "pinned": True,
        },
        format="json",
    )
    task = response.json()["data"]
    assert (task["status"], task["result"], task["attempts"], task["pinned"]) == ("pending", None, 0, False)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "wizard"}, "type"),
        ({}, "type"),
        ({"type": "coder", "name": "ab"}, "name"),
        ({"type": "coder", "name": "x" * 51}, "name"),
        ({"type": "coder", "name": "has space"}, "name"),
        ({"type": "coder", "name": "-leading"}, "name"),
        ({"type": "coder", "capabilities": "all"}, "capabilities"),
    ],
)
def test_agent_rules(client_of_alice, swarm_of_alice, body, field):
    assert field in details(
        client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/agents", body, format="json")
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "ab"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"description": "too short"}, "description"),
        ({"description": "x" * 1001}, "description"),
        ({"type": "dance"}, "type"),
        ({"priority": "urgent"}, "priority"),
        ({"requirements": {"permissions": ["read", "sudo"]}}, "requirements.permissions.1"),
        ({"requirements": {"capabilities": "all"}}, "requirements.capabilities"),
        ({"dependencies": "task_1"}, "dependencies"),
    ],
)
def test_task_rules(client_of_alice, swarm_of_alice, change, field):
    body = {"name": "Write it", "description": "Write the whole thing", "type": "coding", **change}
    found = details(client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/tasks", body, format="json"))
    assert field in found, found


def test_key_rules(client_of_alice):
    found = details(client_of_alice.post("/api/keys", {"name": "", "permissions": ["root"]}, format="json"))
    assert {"name", "permissions.0"} <= set(found)
    found = details(client_of_alice.post("/api/keys", {"name": "k", "permissions": []}, format="json"))
    assert "permissions" in found


def test_max_swarms_is_enforced_across_the_deployment(client_of_alice, client_of_bob, settings):
    settings.MAX_SWARMS = 2
    assert create(client_of_alice, {"objective": OBJECTIVE}).status_code == 201
    assert create(client_of_bob, {"objective": OBJECTIVE}).status_code == 201
    refused = create(client_of_alice, {"objective": OBJECTIVE})
    assert refused.status_code == 409
    assert refused.json()["error"] == "Limit exceeded" and "maxSwarms is 2" in refused.json()["message"]
    Swarm.objects.filter(owner__username="bob").update(status="completed")  # finished swarms free a place
    assert create(client_of_alice, {"objective": OBJECTIVE}).status_code == 201
