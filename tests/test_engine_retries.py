"""The execution bridge's retry matrix and timeouts, against the fake Claude through the SDK."""

from __future__ import annotations

import pytest

from swarms.services import swarm_start
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)


def run_one(alice, description: str, timeout: float = 30) -> Task:
    swarm = build_swarm(
        alice, tasks=[{"name": "The task", "description": description}], options={"review": False}
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed", "failed", timeout=timeout)
    return Task.objects.get(swarm=swarm)


def agent_calls(task: Task) -> list[ClaudeCall]:
    """The attempts of the task's first turn (the fake's faults fire once per conversation)."""
    return list(ClaudeCall.objects.filter(task=task, role="agent", turn=1).order_by("id"))


def test_429_is_retried_after_the_retry_after_it_names(workers, alice):
    task = run_one(alice, "Write the parser [[fake:429x2,retry_ms=400]]")
    calls = agent_calls(task)
    assert task.status == "completed"
    assert [(c.outcome, c.status_code) for c in calls] == [("error", 429), ("error", 429), ("ok", None)]
    assert [c.attempt for c in calls] == [1, 2, 3]
    gaps = [(b.created_at - a.created_at).total_seconds() for a, b in zip(calls, calls[1:], strict=False)]
    assert all(gap >= 0.38 for gap in gaps), gaps  # honoured retry-after-ms, not the 50 ms base delay
    assert task.swarm.events.filter(type="task.retrying").count() == 2


@pytest.mark.parametrize("directive", ["[[fake:529x1]]", "[[fake:500x2]]", "[[fake:stream-errorx1]]"])
def test_overload_server_errors_and_broken_streams_are_retried(workers, alice, directive):
    task = run_one(alice, f"Write the parser {directive}")
    assert task.status == "completed"
    outcomes = [c.outcome for c in agent_calls(task)]
    assert outcomes[-1] == "ok" and outcomes[:-1] and set(outcomes[:-1]) == {"error"}


def test_a_broken_stream_records_its_partial_spend(workers, alice):
    task = run_one(alice, "Write the parser [[fake:stream-errorx1]]")
    broken = agent_calls(task)[0]
    assert broken.estimated and broken.input_tokens > 0 and broken.output_tokens > 0
    every_turn = ClaudeCall.objects.filter(task=task)
    assert task.input_tokens == sum(c.input_tokens for c in every_turn)


@pytest.mark.parametrize(
    ("directive", "status"),
    [
        ("[[fake:400]]", 400),
        ("[[fake:401]]", 401),
        ("[[fake:403]]", 403),
        ("[[fake:404]]", 404),
        ("[[fake:413]]", 413),
    ],
)
def test_client_errors_fail_at_once(workers, alice, directive, status):
    task = run_one(alice, f"Write the parser {directive}")
    assert task.status == "failed" and task.failure_reason == "claude_error"
    assert str(status) in task.error
    assert [c.status_code for c in agent_calls(task)] == [status]


def test_retries_stop_at_max_retries(workers, alice, settings):
    settings.MAX_RETRIES = 2
    task = run_one(alice, "Write the parser [[fake:500x9]]")
    assert task.status == "failed"
    assert len(agent_calls(task)) == 3
    assert task.swarm.status == "failed" and "1 of 1 tasks" in task.swarm.failure_reason


def test_a_hung_response_times_out_and_is_retried(workers, alice, settings):
    settings.CLAUDE_TIMEOUT_MS = 800
    settings.MAX_RETRIES = 1
    task = run_one(alice, "Write the parser [[fake:hang]]")
    calls = agent_calls(task)
    assert task.status == "failed"
    assert [c.outcome for c in calls] == ["timeout", "timeout"]
    assert "timeout" in task.error


def test_a_task_past_its_timeout_fails_with_reason_timeout(workers, alice, settings):
    settings.TASK_TIMEOUT_MINUTES = 0.02  # 1.2 s
    task = run_one(alice, "Write the parser slowly [[fake:slow=400]]")
    assert task.status == "failed" and task.failure_reason == "timeout"
    assert agent_calls(task)[-1].outcome == "cancelled"


def test_a_swarm_past_its_timeout_fails(workers, alice):
    from datetime import timedelta

    from django.utils import timezone

    from swarms.models import Swarm

    swarm = build_swarm(alice, tasks=[{"name": "Slow", "description": "Write slowly [[fake:slow=500]]"}])
    swarm_start(swarm_id=swarm.id)
    Swarm.objects.filter(pk=swarm.id).update(
        timeout_ms=30_000, started_at=timezone.now() - timedelta(seconds=31)
    )
    wait_for_status(swarm.id, "failed", timeout=10)
    swarm.refresh_from_db()
    assert swarm.failure_reason == "timeout"
    assert Task.objects.get(swarm=swarm).status == "cancelled"
