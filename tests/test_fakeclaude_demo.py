"""The offline demo (issue 13, item 6): the fake Claude's plausible, objective-specific plans, and a
per-call latency that a person can watch (bin/run: 1-3 s; the tests' fake: 0)."""

from __future__ import annotations

import time

import anthropic
import pytest

from agents.models import Agent
from claudeflow_site.config import ConfigError, env_range
from engine import plans as planning
from fakeclaude import FakeClaude
from fakeclaude.demo import plausible_plan, subject_of
from swarms.models import Swarm
from tasks.models import Task
from tests.helpers import wait_for_status

OBJECTIVE = "Build a REST API for user management"


def prompt_for(swarm: Swarm) -> str:
    _, messages = planning.plan_messages(swarm, "guidance")
    return messages[0]["content"]


def swarm_of(owner, **fields) -> Swarm:
    defaults = {"objective": OBJECTIVE, "strategy": "development", "max_agents": 5, "mode": "centralized"}
    return Swarm(owner=owner, **{**defaults, **fields})


@pytest.mark.parametrize(
    ("objective", "subject"),
    [
        ("Build a REST API for user management", "REST API for user management"),
        ("Research the state of WebAssembly runtimes. Keep it short.", "state of WebAssembly runtimes"),
        ("analyse our sales data for 2024", "sales data for 2024"),
        ("A poem about the sea", "poem about the sea"),
    ],
)
def test_the_subject_is_the_objective_without_its_verb(objective, subject):
    assert subject_of(objective) == subject


@pytest.mark.django_db
def test_a_development_plan_reads_like_one_and_passes_the_engines_validation(alice):
    swarm = swarm_of(alice)
    plan = plausible_plan(planning.plan_tool(swarm)["input_schema"], prompt_for(swarm))
    assert [a["name"] for a in plan["agents"]] == [
        "rest-api-architect",
        "rest-api-developer",
        "rest-api-tester",
        "rest-api-reviewer",
    ]
    assert [t["name"] for t in plan["tasks"]] == [
        "Design the REST API for user management",
        "Implement the REST API for user management",
        "Test the REST API for user management",
        "Review the REST API for user management",
    ]
    assert plan["tasks"][3]["dependencies"] == [1, 2]
    validated, errors = planning.validate(plan, swarm)
    assert errors == [] and len(validated.tasks) == 4


@pytest.mark.parametrize("strategy", ["auto", "research", "analysis", "testing", "review"])
@pytest.mark.parametrize(
    ("max_agents", "mode"), [(1, "centralized"), (2, "hierarchical"), (8, "distributed")]
)
@pytest.mark.django_db
def test_every_planned_strategy_gets_a_valid_plan_within_the_limits(alice, strategy, max_agents, mode):
    swarm = swarm_of(alice, strategy=strategy, max_agents=max_agents, mode=mode)
    plan = plausible_plan(planning.plan_tool(swarm)["input_schema"], prompt_for(swarm))
    assert 1 <= len(plan["agents"]) <= max_agents
    if mode == "hierarchical":
        assert plan["agents"][0]["type"] == "coordinator"
    _, errors = planning.validate(plan, swarm)
    assert errors == []


def test_a_schema_that_is_not_a_plan_gets_no_plausible_plan():
    assert plausible_plan({"type": "object", "properties": {"answer": {"type": "string"}}}, OBJECTIVE) is None


def ask_for_plan(fake: FakeClaude, swarm: Swarm) -> dict:
    client = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0)
    tool = planning.plan_tool(swarm)
    message = client.messages.create(
        model="m",
        max_tokens=100,
        messages=[{"role": "user", "content": prompt_for(swarm)}],
        tools=[tool],
        tool_choice={"type": "tool", "name": tool["name"]},
    )
    return message.content[0].input


@pytest.mark.django_db
def test_only_a_plausible_fake_answers_with_the_plausible_plan(alice):
    swarm = swarm_of(alice)
    with FakeClaude(plausible=True) as demo, FakeClaude() as plain:
        assert ask_for_plan(demo, swarm)["agents"][0]["name"] == "rest-api-architect"
        assert ask_for_plan(plain, swarm)["agents"][0]["name"] != "rest-api-architect"  # the tests' fake


def test_a_latency_range_spreads_calls_between_its_bounds():
    with FakeClaude(latency_ms=100, latency_max_ms=400) as fake:
        client = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0)
        took = []
        for _ in range(6):
            start = time.monotonic()
            client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
            took.append(time.monotonic() - start)
        assert min(took) >= 0.1 and max(took) < 1.5
        assert max(took) - min(took) > 0.02  # not one fixed delay
        fake.configure(latency_ms=0)  # an explicit latency replaces the range
        start = time.monotonic()
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        assert time.monotonic() - start < 0.1


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, (300, 300)), ("0", (0, 0)), ("1000-3000", (1000, 3000)), ("250", (250, 250))],
)
def test_the_latency_setting_reads_a_number_or_a_range(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("FAKE_CLAUDE_LATENCY_MS", raising=False)
    else:
        monkeypatch.setenv("FAKE_CLAUDE_LATENCY_MS", value)
    assert env_range("FAKE_CLAUDE_LATENCY_MS", (300, 300), max=600_000) == expected


@pytest.mark.parametrize("value", ["slow", "3000-1000", "-5", "1-2-3", "999999999"])
def test_a_bad_latency_setting_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("FAKE_CLAUDE_LATENCY_MS", value)
    with pytest.raises(ConfigError, match="FAKE_CLAUDE_LATENCY_MS"):
        env_range("FAKE_CLAUDE_LATENCY_MS", (300, 300), max=600_000)


@pytest.mark.django_db(transaction=True)
def test_a_demo_swarm_runs_with_objective_specific_agents_and_tasks(workers, fake_claude, client_of_alice):
    fake_claude.plausible = True
    try:
        body = {"objective": OBJECTIVE, "strategy": "development", "maxAgents": 4}
        swarm_id = client_of_alice.post("/api/swarm/create", body, format="json").json()["swarmId"]
        wait_for_status(swarm_id, "ready")
        names = set(Agent.objects.filter(swarm_id=swarm_id).values_list("name", flat=True))
        assert names == {"rest-api-architect", "rest-api-developer", "rest-api-tester", "rest-api-reviewer"}
        client_of_alice.post(f"/api/swarm/{swarm_id}/start")
        wait_for_status(swarm_id, "completed")
        task = Task.objects.get(swarm_id=swarm_id, name="Implement the REST API for user management")
        assert "REST API" in task.output or "rest_api" in task.output.lower()
    finally:
        fake_claude.plausible = False
