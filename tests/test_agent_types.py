"""User-defined agent types: CRUD with validation and tenancy, the built-ins' protection, the in-use
409, and a custom type changing what an agent sends to Claude (prompt, model, tools, turns)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from agents.models import Agent, AgentType
from agents.registry import AGENT_TYPES, TOOL_NAMES
from agents.selectors import agent_type_for
from core.errors import Conflict
from engine import tools
from swarms.models import Swarm
from swarms.services import swarm_start, swarm_stop
from tasks.models import Task
from tests.builders import build_swarm
from tests.conftest import client_for
from tests.helpers import wait_for_status

pytestmark = pytest.mark.django_db

SQL_EXPERT = {
    "name": "sql-expert",
    "description": "Writes and reviews SQL",
    "systemPrompt": "You are a SQL expert. Answer with one query and a line on why it is right.",
    "capabilities": ["sql", "analysis"],
    "model": "claude-haiku-4-5",
    "tools": ["read_file", "submit_result"],
    "maxTurns": 3,
}


def create(client, **change):
    return client.post("/api/agent-types", {**SQL_EXPERT, **change}, format="json")


def details(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "Validation failed"
    return {d["field"]: d for d in body["details"]}


# --- the built-ins ---------------------------------------------------------------------------------


def test_the_builtins_are_global_rows_everyone_sees(client_of_alice):
    body = client_of_alice.get("/api/agent-types").json()
    assert body["count"] == len(AGENT_TYPES) == 11
    coder = next(t for t in body["agentTypes"] if t["name"] == "coder")
    assert coder["builtin"] is True and coder["model"] is None and coder["maxTurns"] is None
    assert coder["systemPrompt"] == AGENT_TYPES["coder"].system_prompt
    assert coder["capabilities"] == list(AGENT_TYPES["coder"].capabilities)
    assert coder["description"] == "You write correct, complete, idiomatic code with brief explanations."


def test_the_tool_names_types_may_allow_are_the_tools_the_runner_runs():
    assert set(TOOL_NAMES) == set(tools.DECLARATIONS)


def test_builtins_cannot_be_changed_or_deleted(client_of_alice):
    response = client_of_alice.patch("/api/agent-types/coder", {"description": "mine now"}, format="json")
    assert response.status_code == 403
    assert "built-in" in response.json()["message"]
    response = client_of_alice.delete("/api/agent-types/coder")
    assert response.status_code == 403 and "built-in" in response.json()["message"]
    assert AgentType.objects.get(name="coder", owner=None).description != "mine now"


def test_a_builtin_name_cannot_be_taken(client_of_alice):
    found = details(create(client_of_alice, name="coder"))
    assert "built-in" in found["name"]["message"]


# --- create, read, update, delete ------------------------------------------------------------------


def test_create_returns_the_type_and_lists_it_after_the_builtins(client_of_alice, alice):
    response = create(client_of_alice)
    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in SQL_EXPERT} == SQL_EXPERT
    assert body["builtin"] is False
    listed = client_of_alice.get("/api/agent-types").json()["agentTypes"]
    assert [t["name"] for t in listed][-1] == "sql-expert"
    assert (
        client_of_alice.get("/api/agent-types/sql-expert").json()["systemPrompt"]
        == SQL_EXPERT["systemPrompt"]
    )
    assert AgentType.objects.get(name="sql-expert").owner == alice


def test_defaults_are_the_deployments(client_of_alice):
    body = create(client_of_alice, model=None, maxTurns=None).json()
    assert (body["model"], body["maxTurns"]) == (None, None)
    omitted = {k: v for k, v in SQL_EXPERT.items() if k not in ("tools", "model", "maxTurns")}
    body = client_of_alice.post("/api/agent-types", {**omitted, "name": "plain"}, format="json").json()
    assert body["tools"] == list(TOOL_NAMES) and body["model"] is None and body["maxTurns"] is None
    assert details(create(client_of_alice, name="nulltools", tools=None))["tools"]  # [] means none


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"name": "no spaces please"}, "name", "letters"),
        ({"name": "x"}, "name", "at least 3"),
        ({"name": "n" * 41}, "name", "40"),
        ({"systemPrompt": "short"}, "systemPrompt", "at least 10"),
        ({"systemPrompt": "Be a helpful \x1b[31m agent"}, "systemPrompt", "control character"),
        ({"capabilities": []}, "capabilities", "at least 1"),
        ({"capabilities": ["has space"]}, "capabilities.0", "letters"),
        ({"capabilities": "sql"}, "capabilities", "list"),
        ({"model": "gpt-4"}, "model", "claude-sonnet-5-5"),
        ({"tools": ["rm_rf"]}, "tools.0", "tools must be one of list_files"),
        ({"maxTurns": 0}, "maxTurns", "greater than or equal to 1"),
        ({"maxTurns": 1000}, "maxTurns", "TASK_MAX_TURNS"),
        ({"maxTurns": "3"}, "maxTurns", "integer"),
        ({"temperature": 2}, "temperature", "Unknown field"),
    ],
)
def test_validation_errors_name_the_field(client_of_alice, change, field, words):
    found = details(create(client_of_alice, **change))
    assert field in found, found
    assert words in found[field]["message"], found[field]
    assert not AgentType.objects.filter(owner__isnull=False).exists()


def test_a_model_of_the_deployments_settings_is_accepted(client_of_alice, settings):
    settings.CLAUDE_PRICES = {"claude-custom-1": [1, 2]}
    assert create(client_of_alice, model="claude-custom-1").status_code == 201


def test_a_second_type_of_the_same_name_is_a_conflict(client_of_alice):
    assert create(client_of_alice).status_code == 201
    response = create(client_of_alice)
    assert response.status_code == 409 and "sql-expert" in response.json()["message"]


def test_patch_changes_only_what_it_names(client_of_alice):
    create(client_of_alice)
    response = client_of_alice.patch(
        "/api/agent-types/sql-expert", {"maxTurns": None, "tools": []}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["maxTurns"] is None and body["tools"] == [] and body["model"] == "claude-haiku-4-5"
    row = AgentType.objects.get(name="sql-expert")
    assert row.max_turns is None and row.tools == [] and row.system_prompt == SQL_EXPERT["systemPrompt"]


def test_patch_refuses_a_new_name_and_bad_values(client_of_alice):
    create(client_of_alice)
    found = details(client_of_alice.patch("/api/agent-types/sql-expert", {"name": "renamed"}, format="json"))
    assert "cannot change" in found["name"]["message"]
    found = details(client_of_alice.patch("/api/agent-types/sql-expert", {"model": "nope"}, format="json"))
    assert "model" in found


def test_delete_removes_an_unused_type(client_of_alice):
    create(client_of_alice)
    assert client_of_alice.delete("/api/agent-types/sql-expert").status_code == 200
    assert client_of_alice.get("/api/agent-types/sql-expert").status_code == 404


def test_a_read_only_key_cannot_create(read_only_client_of_alice):
    assert create(read_only_client_of_alice).status_code == 403


# --- tenancy ---------------------------------------------------------------------------------------


def test_another_users_type_is_a_404_and_not_listed(client_of_alice, client_of_bob):
    create(client_of_alice)
    assert client_of_bob.get("/api/agent-types/sql-expert").status_code == 404
    assert (
        client_of_bob.patch("/api/agent-types/sql-expert", {"description": "x"}, format="json").status_code
        == 404
    )
    assert client_of_bob.delete("/api/agent-types/sql-expert").status_code == 404
    names = [t["name"] for t in client_of_bob.get("/api/agent-types").json()["agentTypes"]]
    assert "sql-expert" not in names and len(names) == 11
    # bob has a namespace of his own
    assert create(client_of_bob, systemPrompt="You are Bob's SQL expert, terse.").status_code == 201
    assert (
        client_of_alice.get("/api/agent-types/sql-expert").json()["systemPrompt"]
        == SQL_EXPERT["systemPrompt"]
    )


def test_a_swarm_may_spawn_only_its_owners_types(client_of_alice, client_of_bob, swarm_of_alice, alice):
    create(client_of_bob)  # bob's sql-expert is not alice's
    spawn = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/agents", {"type": "sql-expert"}, format="json"
    )
    found = details(spawn)
    assert "sql-expert" in found["type"]["message"]
    create(client_of_alice)
    spawn = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/agents", {"type": "sql-expert"}, format="json"
    )
    assert spawn.status_code == 201, spawn.content
    assert spawn.json()["data"]["capabilities"] == {"sql": True, "analysis": True}


def test_staff_spawning_into_a_users_swarm_uses_that_users_types(
    client_of_alice, client_of_staff, swarm_of_alice
):
    create(client_of_alice)
    url = f"/api/swarm/{swarm_of_alice.id}/agents"
    assert client_of_staff.post(url, {"type": "sql-expert"}, format="json").status_code == 201


# --- in use ----------------------------------------------------------------------------------------


def test_a_type_live_agents_use_cannot_be_deleted_until_their_swarm_ends(client_of_alice, swarm_of_alice):
    create(client_of_alice)
    client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/agents", {"type": "sql-expert"}, format="json")
    response = client_of_alice.delete("/api/agent-types/sql-expert")
    assert response.status_code == 409
    assert "in use" in response.json()["message"] and swarm_of_alice.id in response.json()["message"]
    swarm_stop(swarm_id=swarm_of_alice.id)
    assert client_of_alice.delete("/api/agent-types/sql-expert").status_code == 200


def test_a_terminated_agent_does_not_hold_its_type(client_of_alice, swarm_of_alice):
    create(client_of_alice)
    agent_id = client_of_alice.post(
        f"/api/swarm/{swarm_of_alice.id}/agents", {"type": "sql-expert"}, format="json"
    ).json()["agentId"]
    client_of_alice.delete(f"/api/swarm/{swarm_of_alice.id}/agents/{agent_id}")
    assert client_of_alice.delete("/api/agent-types/sql-expert").status_code == 200


# --- the runtime -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_custom_type_sets_the_prompt_model_and_tools_claude_gets(workers, fake_claude, alice):
    client = client_for(alice)
    assert create(client).status_code == 201
    swarm = build_swarm(
        alice,
        agents=[("sql-expert", "dba")],
        tasks=[{"name": "Query", "description": "Find the ten largest customers", "capabilities": ["sql"]}],
        options={"review": False},
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    bodies = [r["body"] for r in fake_claude.requests]
    assert bodies and {b["model"] for b in bodies} == {"claude-haiku-4-5"}
    request = bodies[0]
    system = request["system"] if isinstance(request["system"], str) else request["system"][0]["text"]
    assert system.startswith(SQL_EXPERT["systemPrompt"])
    assert sorted(t["name"] for t in request["tools"]) == ["read_file", "submit_result"]
    task = Task.objects.get(swarm=swarm)
    assert task.assigned_agent.type == "sql-expert"
    assert set(task.claude_calls.values_list("model", flat=True)) == {"claude-haiku-4-5"}


@pytest.mark.django_db(transaction=True)
def test_a_custom_types_max_turns_ends_the_tool_loop(workers, fake_claude, alice, settings):
    settings.TASK_MAX_TURNS = 10
    client = client_for(alice)
    create(client, maxTurns=2, tools=["list_files", "read_file", "submit_result"])
    swarm = build_swarm(
        alice,
        agents=[("sql-expert", "dba")],
        tasks=[{"name": "Loop", "description": "Never finish [[fake:tool-loop]]", "capabilities": ["sql"]}],
        options={"review": False},
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "failed")
    task = Task.objects.get(swarm=swarm)
    assert task.failure_reason == "max_turns" and "2 turns (its agent type's maxTurns)" in task.error
    assert len(fake_claude.requests) == 2


@pytest.mark.django_db(transaction=True)
def test_the_planner_offers_the_owners_types_and_the_plan_uses_one(workers, fake_claude, alice, bob):
    create(client_for(alice))
    create(client_for(bob), name="bobs-own")
    fake_claude.enqueue(
        {
            "tool_input": {
                "agents": [{"type": "sql-expert", "name": "dba"}],
                "tasks": [
                    {
                        "name": "Largest customers",
                        "description": "Write the query for the ten largest customers",
                        "type": "analysis",
                        "priority": "normal",
                        "agentType": "sql-expert",
                        "capabilities": ["sql"],
                    }
                ],
            }
        }
    )
    response = client_for(alice).post(
        "/api/swarm/create", {"objective": "Report our largest customers by revenue"}, format="json"
    )
    swarm_id = response.json()["swarmId"]
    wait_for_status(swarm_id, "ready")
    plan_request = fake_claude.requests[0]
    schema = plan_request["body"]["tools"][0]["input_schema"]
    enum = schema["properties"]["agents"]["items"]["properties"]["type"]["enum"]
    assert "sql-expert" in enum and "coder" in enum and "bobs-own" not in enum
    assert "sql" in schema["properties"]["tasks"]["items"]["properties"]["capabilities"]["items"]["enum"]
    assert "- sql-expert: sql, analysis — Writes and reviews SQL" in plan_request["text"]
    assert "- coder: codeGeneration, documentation, debugging\n" in plan_request["text"]  # as before
    assert dict(Agent.objects.filter(swarm_id=swarm_id).values_list("name", "type")) == {"dba": "sql-expert"}
    task = Task.objects.get(swarm_id=swarm_id)
    assert task.agent_type == "sql-expert" and task.requirements == {"capabilities": ["sql"]}
    swarm_start(swarm_id=swarm_id)
    wait_for_status(swarm_id, "completed")
    assert Swarm.objects.get(pk=swarm_id).status == "completed"
    agent_calls = [r["body"] for r in fake_claude.requests if r["body"].get("model") == "claude-haiku-4-5"]
    assert agent_calls, "the agent's turn went to the type's model"


def test_a_deleted_type_runs_as_a_specialist(alice):
    from engine import prompts

    AgentType.objects.create(owner=alice, name="gone", system_prompt="You are gone soon.", capabilities=["x"])
    swarm = build_swarm(alice, agents=[("gone", "ghost")], tasks=[{"name": "T", "capabilities": ["x"]}])
    task = Task.objects.get(swarm=swarm)
    task.assigned_agent = Agent.objects.get(swarm=swarm)
    AgentType.objects.filter(name="gone").delete()
    assert prompts.agent_spec(task).name == "specialist"


def test_the_list_is_one_query_however_many_types(client_of_alice, alice, django_assert_max_num_queries):
    for n in range(5):
        AgentType.objects.create(
            owner=alice, name=f"own-{n}", system_prompt="You are one of many.", capabilities=["x"]
        )
    client_of_alice.get("/api/agent-types")  # warm the key's cache entries
    with django_assert_max_num_queries(4):  # authentication, then the list
        assert client_of_alice.get("/api/agent-types").json()["count"] == 16
    with django_assert_max_num_queries(4):
        assert client_of_alice.get("/api/strategies").json()["count"] == 9


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_a_delete_racing_a_spawn_waits_for_it_and_sees_the_type_in_use(alice):
    from agents.services import agent_spawn, agent_type_delete
    from swarms.locks import lock_swarm

    row = AgentType.objects.create(
        owner=alice, name="racer", system_prompt="You are quick.", capabilities=["x"]
    )
    swarm = build_swarm(alice, agents=[])
    spawned, outcome = threading.Event(), {}

    def delete() -> None:
        spawned.wait(5)
        try:
            agent_type_delete(agent_type=row)
            outcome["result"] = "deleted"
        except Conflict as exc:
            outcome["result"] = exc.message
        finally:
            connection.close()

    deleter = threading.Thread(target=delete)
    deleter.start()
    with transaction.atomic():
        lock_swarm(swarm.id)
        agent_spawn(swarm=swarm, type="racer", name="fast")
        spawned.set()
        time.sleep(0.5)  # the delete is waiting on the type's row lock meanwhile
    deleter.join(10)
    assert "in use" in outcome["result"]
    assert AgentType.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("kind", ["own", "builtin", "deleted"])
def test_the_claim_reads_the_agents_type_in_its_own_query(kind, alice, django_assert_num_queries):
    from engine import prompts
    from engine.runner import claimable

    if kind != "builtin":
        AgentType.objects.create(
            owner=alice, name="mine", system_prompt="You are mine.", capabilities=["x"], tools=["read_file"],
            model="claude-haiku-4-5", max_turns=3,
        )  # fmt: skip
    name = "coder" if kind == "builtin" else "mine"
    swarm = build_swarm(alice, agents=[(name, "one")], tasks=[{"name": "T", "capabilities": ["x"]}])
    Task.objects.filter(swarm=swarm).update(status="assigned", assigned_agent=Agent.objects.get(swarm=swarm))
    if kind == "deleted":
        AgentType.objects.filter(name="mine").delete()
    task_id = Task.objects.get(swarm=swarm).pk
    expected = agent_type_for(name, alice.pk) or prompts.get_agent_type("specialist")
    claimable(task_id=task_id, assignment_seq=0)  # SQLite's one-time feature checks
    with django_assert_num_queries(1):
        task = claimable(task_id=task_id, assignment_seq=0)
        assert prompts.agent_spec(task) == expected
    assert expected.name == {"own": "mine", "builtin": "coder", "deleted": "specialist"}[kind]
