"""Stop, pause/resume, delete and budgets: control that really stops a run."""

from __future__ import annotations

import time

import pytest

from events.models import Event
from swarms.models import Swarm
from swarms.services import swarm_delete, swarm_pause, swarm_resume, swarm_start, swarm_stop
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import wait_for, wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)


def running(swarm):
    return Task.objects.filter(swarm=swarm, status="running").first()


@pytest.mark.parametrize("directive", ["[[fake:slow=1000]]", "[[fake:stream-hang]]", "[[fake:hang]]"])
def test_stop_aborts_an_in_flight_stream_within_5_seconds(workers, fake_claude, alice, directive):
    swarm = build_swarm(alice, tasks=[{"name": "Long", "description": f"Write a long essay {directive}"}])
    swarm_start(swarm_id=swarm.id)
    task = wait_for(lambda: running(swarm))
    wait_for(lambda: fake_claude.requests, message="the request to reach Claude")
    time.sleep(0.5)
    stopped_at = time.monotonic()
    swarm_stop(swarm_id=swarm.id)
    call = wait_for(lambda: ClaudeCall.objects.filter(task=task, outcome="cancelled").first(), timeout=5)
    assert time.monotonic() - stopped_at < 5
    assert Task.objects.get(pk=task.id).status == "cancelled"
    assert Swarm.objects.get(pk=swarm.id).status == "stopped"
    if directive != "[[fake:hang]]":  # the stream had started: its input tokens were reported
        assert call.input_tokens > 0 and call.cost_usd > 0
        assert Swarm.objects.get(pk=swarm.id).input_tokens == call.input_tokens


def test_stop_cancels_pending_tasks_and_nothing_more_runs(workers, fake_claude, alice):
    swarm = build_swarm(
        alice,
        parallel=False,
        tasks=[
            {"name": "First", "description": "Write part one [[fake:slow=300]]"},
            {"name": "Second", "description": "Write part two"},
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for(lambda: running(swarm))
    swarm_stop(swarm_id=swarm.id)
    time.sleep(1.5)
    statuses = dict(Task.objects.filter(swarm=swarm).values_list("name", "status"))
    assert statuses == {"First": "cancelled", "Second": "cancelled"}
    assert not ClaudeCall.objects.filter(task__name="Second", task__swarm=swarm).exists()


def test_delete_of_a_running_swarm_stops_it_first(workers, fake_claude, alice):
    swarm = build_swarm(
        alice, tasks=[{"name": "Long", "description": "Write a long essay [[fake:slow=1000]]"}]
    )
    swarm_start(swarm_id=swarm.id)
    wait_for(lambda: running(swarm))
    wait_for(lambda: fake_claude.requests)
    swarm_delete(swarm_id=swarm.id)
    assert not Swarm.objects.filter(pk=swarm.id).exists()
    requests_before = len(fake_claude.requests)
    time.sleep(2)  # the worker noticed, aborted, and did not retry or record into a deleted swarm
    assert len(fake_claude.requests) == requests_before


def test_pause_lets_running_tasks_finish_and_dispatches_nothing_new(workers, fake_claude, alice):
    swarm = build_swarm(
        alice,
        parallel=False,
        options={"review": False},
        tasks=[
            {"name": "First", "description": "Write part one [[fake:slow=150]]"},
            {"name": "Second", "description": "Write part two"},
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for(lambda: running(swarm))
    swarm_pause(swarm_id=swarm.id)
    wait_for(lambda: Task.objects.get(swarm=swarm, name="First").status == "completed")
    time.sleep(1.5)  # long enough for several housekeeping kicks
    assert Task.objects.get(swarm=swarm, name="Second").status == "pending"
    assert Swarm.objects.get(pk=swarm.id).status == "paused"
    swarm_resume(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    types = list(Event.objects.filter(swarm=swarm).values_list("type", flat=True))
    assert types.index("swarm.paused") < types.index("swarm.resumed")


def test_budget_exhaustion_fails_the_swarm_and_stops_spending(workers, fake_claude, alice):
    swarm = build_swarm(
        alice,
        parallel=False,
        options={"budget": {"maxTokens": 600}, "review": False},
        tasks=[
            {"name": "First", "description": "Write part one [[fake:tokens=700]]"},
            {"name": "Second", "description": "Write part two"},
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "failed")
    swarm.refresh_from_db()
    assert swarm.failure_reason == "budget_exhausted"
    assert swarm.events.filter(type="budget.exceeded").count() == 1
    assert Task.objects.get(swarm=swarm, name="Second").status == "cancelled"
    assert not ClaudeCall.objects.filter(task__name="Second", task__swarm=swarm).exists()
    first_request = fake_claude.requests[0]["body"]
    assert first_request["max_tokens"] <= 600  # a call never asks for more than the budget left


def test_budget_reached_by_one_task_stops_the_others_in_flight(workers, fake_claude, alice, settings):
    settings.CLAUDE_MAX_TOKENS = 2048  # two calls in flight hold ~$0.065 of the budget: both start
    swarm = build_swarm(
        alice,
        agents=[("coder", "one"), ("coder", "two")],
        options={"budget": {"maxCostUsd": 0.1}, "review": False},
        tasks=[
            {"name": "Expensive", "description": "Write a lot [[fake:tokens=9000]] [[fake:latency=300]]"},
            {"name": "Slow", "description": "Write slowly [[fake:slow=500]]"},
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "failed")
    slow = Task.objects.get(swarm=swarm, name="Slow")
    wait_for(lambda: ClaudeCall.objects.filter(task=slow).exclude(outcome="started").exists(), timeout=5)
    assert slow.status == "cancelled"
    assert ClaudeCall.objects.get(task=slow).outcome == "cancelled"
    swarm.refresh_from_db()
    assert swarm.failure_reason == "budget_exhausted"


def test_spend_is_visible_per_task_agent_and_swarm(workers, fake_claude, alice, client_of_alice):
    swarm = build_swarm(
        alice,
        agents=[("coder", "one"), ("tester", "two")],
        tasks=[
            {"name": "Code", "description": "Write the code", "agent_type": "coder"},
            {"name": "Test", "description": "Write the tests", "agent_type": "tester"},
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    # the reviews score stored results beside the run; the swarm completes once they are in
    spend = client_of_alice.get(f"/api/swarm/{swarm.id}/results").json()["results"]["spend"]
    assert spend["costUsd"] > 0
    assert sum(s["totalTokens"] for s in spend["byTask"].values()) == spend["totalTokens"]
    assert len(spend["byAgent"]) == 2 and all(s["totalTokens"] > 0 for s in spend["byAgent"].values())
    metrics = client_of_alice.get(f"/api/swarm/{swarm.id}/metrics").json()["metrics"]
    assert metrics["costUsd"] == spend["costUsd"] and metrics["tokens"]["total"] == spend["totalTokens"]
