"""User-defined strategies: CRUD with validation and tenancy, built-ins' protection, and swarms
planned from a custom template (no planning call) or with custom guidance (in Claude's prompt)."""

from __future__ import annotations

import pytest

from agents.models import Agent
from engine import planner
from swarms.models import Strategy, Swarm
from swarms.strategies import STRATEGIES
from tasks.models import ClaudeCall, Task
from tests.conftest import OBJECTIVE, client_for
from tests.helpers import wait_for_status

pytestmark = pytest.mark.django_db

TEMPLATE = {
    "agents": [
        {"type": "researcher", "name": "reader"},
        {"type": "documentation-specialist", "name": "writer"},
    ],
    "tasks": [
        {
            "name": "Gather",
            "description": "Collect what the docs say today",
            "type": "research",
            "priority": "high",
            "agentType": "researcher",
            "capabilities": ["research"],
            "dependencies": [],
        },
        {
            "name": "Rewrite",
            "description": "Rewrite the guide from what was gathered",
            "type": "custom",
            "priority": "normal",
            "agentType": "documentation-specialist",
            "dependencies": [0],
        },
    ],
}
DOCS_SPRINT = {"name": "docs-sprint", "description": "Gather, then rewrite", "template": TEMPLATE}
CAREFUL = {
    "name": "careful",
    "guidance": "Plan a separate verification task after every implementation task.",
}


def create(client, body):
    return client.post("/api/strategies", body, format="json")


def details(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "Validation failed"
    return {d["field"]: d for d in body["details"]}


def with_task(**change):
    tasks = [dict(TEMPLATE["tasks"][0]), dict(TEMPLATE["tasks"][1], **change)]
    return {**DOCS_SPRINT, "template": {"agents": list(TEMPLATE["agents"]), "tasks": tasks}}


# --- the built-ins ---------------------------------------------------------------------------------


def test_the_builtins_are_global_rows(client_of_alice):
    body = client_of_alice.get("/api/strategies").json()
    assert body["count"] == len(STRATEGIES) == 9
    by_name = {s["name"]: s for s in body["strategies"]}
    assert {n for n, s in by_name.items() if s["kind"] == "template"} == {
        "microservices",
        "ai-training",
        "security-audit",
    }
    microservices = by_name["microservices"]
    assert microservices["builtin"] is True and microservices["guidance"] is None
    assert [t["dependencies"] for t in microservices["template"]["tasks"]] == [[], [0], [0], [1, 2]]
    assert by_name["research"]["guidance"].startswith("Favour researchers")


def test_builtins_cannot_be_changed_or_deleted(client_of_alice):
    response = client_of_alice.patch(
        "/api/strategies/auto", {"guidance": "Do it my way, always."}, format="json"
    )
    assert response.status_code == 403 and "built-in" in response.json()["message"]
    assert client_of_alice.delete("/api/strategies/microservices").status_code == 403
    found = details(create(client_of_alice, {**CAREFUL, "name": "auto"}))
    assert "built-in" in found["name"]["message"]


# --- create, read, update, delete ------------------------------------------------------------------


def test_create_a_template_and_a_guidance_strategy(client_of_alice, alice):
    response = create(client_of_alice, DOCS_SPRINT)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "template" and body["template"] == TEMPLATE and body["builtin"] is False
    body = create(client_of_alice, CAREFUL).json()
    assert body["kind"] == "guidance" and body["guidance"] == CAREFUL["guidance"] and body["template"] is None
    names = [s["name"] for s in client_of_alice.get("/api/strategies").json()["strategies"]]
    assert names[-2:] == ["careful", "docs-sprint"]
    assert set(Strategy.objects.filter(owner=alice).values_list("name", flat=True)) == {
        "careful",
        "docs-sprint",
    }


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "no spaces"}, "name", "letters"),
        ({"name": "s" * 33}, "name", "32"),
        ({"name": "neither"}, "template", "either guidance"),
        ({**CAREFUL, "template": TEMPLATE}, "guidance", "not both"),
        ({**CAREFUL, "guidance": "short"}, "guidance", "at least 10"),
        ({"name": "listy", "template": [1, 2]}, "template", "JSON object"),
        ({**DOCS_SPRINT, "template": {"agents": [], "tasks": []}}, "template.agents", "non-empty"),
        (with_task(agentType="ghost"), "template.tasks.1.agentType", "'ghost' is not a known agent type"),
        (with_task(dependencies=[1]), "template.tasks.1.dependencies", "not another task"),
        (with_task(dependencies=[7]), "template.tasks.1.dependencies", "not another task"),
        (with_task(name="x"), "template.tasks.1.name", "3+ characters"),
        ({**DOCS_SPRINT, "color": "blue"}, "color", "Unknown option"),
    ],
)
def test_validation_errors_name_the_field(client_of_alice, body, field, words):
    found = details(create(client_of_alice, body))
    assert field in found, found
    assert words in found[field]["message"], found[field]
    assert not Strategy.objects.filter(owner__isnull=False).exists()


def test_a_cycle_is_refused(client_of_alice):
    tasks = [dict(TEMPLATE["tasks"][0], dependencies=[1]), dict(TEMPLATE["tasks"][1], dependencies=[0])]
    found = details(create(client_of_alice, {**DOCS_SPRINT, "template": {**TEMPLATE, "tasks": tasks}}))
    assert "cycle" in found["template.tasks"]["message"]


def test_the_deployments_limits_hold(client_of_alice, settings):
    settings.MAX_TASKS_PER_SWARM = 1
    found = details(create(client_of_alice, DOCS_SPRINT))
    assert "at most 1 are allowed" in found["template.tasks"]["message"]
    settings.MAX_TASKS_PER_SWARM, settings.MAX_AGENTS_PER_SWARM = 100, 1
    assert (
        "at most 1 are allowed" in details(create(client_of_alice, DOCS_SPRINT))["template.agents"]["message"]
    )


def test_a_template_may_use_the_owners_types_but_not_another_users(client_of_alice, client_of_bob):
    sql = {
        "name": "sql-expert",
        "systemPrompt": "You are a SQL expert; one query, explained.",
        "capabilities": ["sql"],
    }
    assert client_of_alice.post("/api/agent-types", sql, format="json").status_code == 201
    body = with_task(agentType="sql-expert", capabilities=["sql"])
    body["template"]["agents"].append({"type": "sql-expert", "name": "dba"})
    assert "template.tasks.1.agentType" in details(create(client_of_bob, body))
    assert create(client_of_alice, body).status_code == 201


def test_a_second_strategy_of_the_same_name_is_a_conflict(client_of_alice):
    assert create(client_of_alice, CAREFUL).status_code == 201
    assert create(client_of_alice, CAREFUL).status_code == 409


def test_patch_switches_between_guidance_and_template(client_of_alice):
    create(client_of_alice, CAREFUL)
    response = client_of_alice.patch("/api/strategies/careful", {"template": TEMPLATE}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["kind"] == "template" and response.json()["guidance"] is None
    response = client_of_alice.patch(
        "/api/strategies/careful", {"guidance": "Back to planning by Claude, carefully."}, format="json"
    )
    assert response.json()["kind"] == "guidance" and response.json()["template"] is None
    found = details(client_of_alice.patch("/api/strategies/careful", {"name": "other"}, format="json"))
    assert "cannot change" in found["name"]["message"]
    found = details(
        client_of_alice.patch(
            "/api/strategies/careful", {"template": {"agents": [], "tasks": []}}, format="json"
        )
    )
    assert "template.agents" in found


def test_delete_and_tenancy(client_of_alice, client_of_bob):
    create(client_of_alice, CAREFUL)
    assert client_of_bob.get("/api/strategies/careful").status_code == 404
    assert (
        client_of_bob.patch("/api/strategies/careful", {"description": "x"}, format="json").status_code == 404
    )
    assert client_of_bob.delete("/api/strategies/careful").status_code == 404
    assert "careful" not in [s["name"] for s in client_of_bob.get("/api/strategies").json()["strategies"]]
    assert client_of_alice.delete("/api/strategies/careful").status_code == 200
    assert client_of_alice.get("/api/strategies/careful").status_code == 404


def test_a_swarm_may_name_only_its_owners_strategies(client_of_alice, client_of_bob):
    create(client_of_alice, CAREFUL)
    response = client_of_bob.post(
        "/api/swarm/create", {"objective": OBJECTIVE, "strategy": "careful"}, format="json"
    )
    found = details(response)
    assert "careful" in found["strategy"]["message"]
    assert not Swarm.objects.exists()


def test_a_strategy_a_swarm_is_being_planned_with_cannot_be_deleted(client_of_alice, alice):
    create(client_of_alice, CAREFUL)
    swarm = Swarm.objects.create(owner=alice, objective=OBJECTIVE, strategy="careful")
    response = client_of_alice.delete("/api/strategies/careful")
    assert response.status_code == 409 and swarm.id in response.json()["message"]
    Swarm.objects.filter(pk=swarm.pk).update(status="ready")
    assert client_of_alice.delete("/api/strategies/careful").status_code == 200


# --- swarms planned with them ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_custom_template_plans_without_claude(workers, fake_claude, alice):
    client = client_for(alice)
    assert create(client, DOCS_SPRINT).status_code == 201
    response = client.post(
        "/api/swarm/create", {"objective": OBJECTIVE, "strategy": "docs-sprint"}, format="json"
    )
    swarm_id = response.json()["swarmId"]
    wait_for_status(swarm_id, "ready")
    assert not ClaudeCall.objects.filter(swarm_id=swarm_id, role="planner").exists()
    assert dict(Agent.objects.filter(swarm_id=swarm_id).values_list("name", "type")) == {
        "reader": "researcher",
        "writer": "documentation-specialist",
    }
    tasks = {t.name: t for t in Task.objects.filter(swarm_id=swarm_id)}
    assert [d.name for d in tasks["Rewrite"].dependencies.all()] == ["Gather"]
    assert tasks["Gather"].get_priority_display() == "high"
    client.post(f"/api/swarm/{swarm_id}/start")
    wait_for_status(swarm_id, "completed")
    order = list(Task.objects.filter(swarm_id=swarm_id).order_by("started_at").values_list("name", flat=True))
    assert order == ["Gather", "Rewrite"]


@pytest.mark.django_db(transaction=True)
def test_a_custom_guidance_reaches_the_planning_prompt(workers, fake_claude, alice):
    client = client_for(alice)
    create(client, CAREFUL)
    response = client.post(
        "/api/swarm/create", {"objective": OBJECTIVE, "strategy": "careful"}, format="json"
    )
    swarm_id = response.json()["swarmId"]
    wait_for_status(swarm_id, "ready")
    planning = fake_claude.requests[0]
    assert planning["body"]["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert f"# Strategy: careful\n{CAREFUL['guidance']}" in planning["text"]


@pytest.mark.django_db(transaction=True)
def test_a_template_whose_type_was_deleted_fails_planning_naming_it(fake_claude, alice):
    client = client_for(alice)
    sql = {"name": "sql-expert", "systemPrompt": "You are a SQL expert; one query.", "capabilities": ["sql"]}
    client.post("/api/agent-types", sql, format="json")
    body = with_task(agentType="sql-expert")
    create(client, body)
    client.delete("/api/agent-types/sql-expert")
    swarm = Swarm.objects.create(owner=alice, objective=OBJECTIVE, strategy="docs-sprint")
    planner.plan(swarm_id=swarm.id)
    swarm.refresh_from_db()
    assert swarm.status == "failed"
    assert swarm.failure_reason.startswith("invalid plan: the docs-sprint template:")
    assert "'sql-expert' is not a known agent type" in swarm.failure_reason


@pytest.mark.django_db(transaction=True)
def test_a_strategy_deleted_before_planning_fails_the_swarm(fake_claude, alice):
    swarm = Swarm.objects.create(owner=alice, objective=OBJECTIVE, strategy="vanished")
    planner.plan(swarm_id=swarm.id)
    swarm.refresh_from_db()
    assert swarm.status == "failed" and "'vanished' no longer exists" in swarm.failure_reason
    assert fake_claude.requests == []
