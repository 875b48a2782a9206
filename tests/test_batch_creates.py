"""A plan's (or a clone's) agents and tasks are written in one go: `agents_spawn` and
`tasks_create` keep every rule of spawning and adding one at a time (limits, unknown types,
instance numbers, sequences, dependencies, events in order) with a fixed number of statements."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from agents.models import Agent
from agents.services import Wanted, agent_spawn, agent_type_create, agents_spawn
from core.errors import LimitExceeded, ValidationFailed
from events.models import Event, LogEntry
from events.stream import batch
from swarms.locks import lock_swarm
from tasks.models import Task
from tasks.services import task_create, tasks_create
from tests.builders import build_swarm
from webhooks.services import cache as webhook_routes

pytestmark = pytest.mark.django_db


def events_of(swarm: Any, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in Event.objects.filter(swarm_id=swarm.id, type=kind).order_by("seq")]


def spawn(swarm: Any, wanted: list[Wanted]) -> list[Any]:
    with transaction.atomic(), batch(swarm.id):
        lock_swarm(swarm.id)
        return agents_spawn(swarm=swarm, wanted=wanted)


def test_agents_spawn_numbers_instances_on_and_reports_each_refusal_in_its_place(alice: Any) -> None:
    swarm = build_swarm(alice, agents=[("coder", "first coder")], max_agents=4)
    spawned = spawn(
        swarm,
        [
            Wanted("coder"),
            Wanted("no-such-type", "ghost"),
            Wanted("tester", "Tess", {"testing": True, "extra": "yes"}),
            Wanted("coder", "third coder"),
            Wanted("coder", "one too many"),
        ],
    )
    assert [type(item) for item in spawned] == [Agent, ValidationFailed, Agent, Agent, LimitExceeded]
    assert spawned[1].message == "Unknown agent type 'no-such-type'"
    assert spawned[1].details == [
        {"field": "type", "message": "'no-such-type' is not one of your agent types", "value": "no-such-type"}
    ]
    assert "already has 4 agents (its maximum is 4)" in spawned[4].message
    stored = {a.name: a for a in Agent.objects.filter(swarm=swarm)}
    assert set(stored) == {"first coder", "coder-2", "Tess", "third coder"}
    assert (stored["coder-2"].instance, stored["third coder"].instance, stored["Tess"].instance) == (2, 3, 1)
    assert stored["Tess"].capabilities["extra"] == "yes" and stored["Tess"].capabilities["testing"] is True
    assert stored["coder-2"].capabilities == stored["first coder"].capabilities  # the type's defaults
    announced = [e["name"] for e in events_of(swarm, "agent.spawned")]
    assert announced == ["first coder", "coder-2", "Tess", "third coder"]
    # each spawn's log line: inserted with the batch, its event naming the stored entry
    lines = {e["id"]: e["message"] for e in events_of(swarm, "log")}
    entries = dict(LogEntry.objects.filter(swarm_id=swarm.id).values_list("id", "message"))
    assert lines == entries and len(entries) == 4
    assert entries[max(entries)] == "Spawned agent third coder (coder #3)"


def test_one_agent_at_a_time_still_raises(alice: Any) -> None:
    swarm = build_swarm(alice, agents=[("coder", "only")], max_agents=1)
    with transaction.atomic(), batch(swarm.id), pytest.raises(LimitExceeded):
        agent_spawn(swarm=swarm, type="coder")
    swarm.max_agents = 5
    with transaction.atomic(), batch(swarm.id), pytest.raises(ValidationFailed):
        agent_spawn(swarm=swarm, type="nobody")


def test_an_own_type_and_a_builtin_resolve_as_one_at_a_time(alice: Any, bob: Any) -> None:
    agent_type_create(owner=alice, name="scribe", system_prompt="Write.", capabilities=["documentation"])
    agent_type_create(owner=bob, name="critic", system_prompt="Judge.", capabilities=["analysis"])
    swarm = build_swarm(alice, agents=[])
    spawned = spawn(swarm, [Wanted("scribe"), Wanted("critic"), Wanted("researcher")])
    assert isinstance(spawned[0], Agent) and spawned[0].capabilities.get("documentation") is True
    assert isinstance(spawned[1], ValidationFailed)  # bob's type: not alice's to use
    assert isinstance(spawned[2], Agent)


def test_agents_spawn_statements_do_not_grow_with_the_number_of_agents(alice: Any, settings: Any) -> None:
    settings.WEBHOOK_CACHE_SECONDS = 3600  # the webhooks read once, not again when the cache's
    webhook_routes.invalidate()  # seconds run out between the two counts (a flake under load)
    webhook_routes.routes()

    def statements(n: int) -> int:
        swarm = build_swarm(alice, agents=[], max_agents=20)
        with CaptureQueriesContext(connection) as queries:
            spawn(swarm, [Wanted("coder") for _ in range(n)])
        return len(queries)

    assert statements(2) == statements(8)


def add(swarm: Any, items: list[dict[str, Any]]) -> list[Task]:
    with transaction.atomic(), batch(swarm.id):
        lock_swarm(swarm.id)
        return tasks_create(swarm=swarm, tasks=items)


def test_tasks_create_links_dependencies_by_index_and_to_stored_tasks(alice: Any) -> None:
    swarm = build_swarm(alice, tasks=[{"name": "stored"}])
    stored = Task.objects.get(swarm=swarm)
    created = add(
        swarm,
        [
            {"name": "a", "description": "first", "sequence": None},
            {"name": "b", "description": "second", "dependencies": [0, stored, 0]},
            {"name": "c", "description": "third", "sequence": 9, "dependencies": [1]},
            {"name": "d", "description": "fourth"},
        ],
    )
    by_name = {t.name: Task.objects.get(pk=t.id) for t in created}
    assert [by_name[n].sequence for n in "abcd"] == [2, 3, 9, 10]  # None: after the last one
    assert {d.name for d in by_name["b"].dependencies.all()} == {"a", "stored"}
    assert [d.name for d in by_name["c"].dependencies.all()] == ["b"]
    assert not by_name["d"].dependencies.exists()
    announced = events_of(swarm, "task.created")
    assert [e["name"] for e in announced] == ["stored", "a", "b", "c", "d"]
    assert sorted(announced[2]["dependencies"]) == sorted([by_name["a"].id, stored.id])
    assert all(t.status == Task.Status.PENDING for t in by_name.values())


def test_tasks_past_the_cap_are_refused_whole(alice: Any, settings: Any) -> None:
    settings.MAX_TASKS_PER_SWARM = 3
    swarm = build_swarm(alice, tasks=[{"name": "stored"}])
    with pytest.raises(LimitExceeded) as refused:
        add(swarm, [{"name": n, "description": n} for n in "abc"])
    assert "already has 1 tasks and 3 more would pass" in refused.value.message
    assert Task.objects.filter(swarm=swarm).count() == 1  # none of the three
    add(swarm, [{"name": n, "description": n} for n in "ab"])  # up to the cap is fine
    with transaction.atomic(), batch(swarm.id), pytest.raises(LimitExceeded) as one:
        task_create(swarm=swarm, name="e", description="e")
    assert one.value.message.startswith(f"Swarm {swarm.id} already has 3 tasks (this deployment")


def test_tasks_create_statements_do_not_grow_with_the_number_of_tasks(alice: Any) -> None:
    def statements(n: int) -> int:
        swarm = build_swarm(alice)
        items = [{"name": f"t{i}", "description": "x", "dependencies": list(range(i))} for i in range(n)]
        with CaptureQueriesContext(connection) as queries:
            add(swarm, items)
        return len(queries)

    assert statements(2) == statements(8)
