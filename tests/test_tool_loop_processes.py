"""The tool loop on real `rundramatiq` worker processes: a SIGKILL mid-loop neither duplicates
a workspace write nor pays twice for a turn whose answer was stored."""

from __future__ import annotations

import signal

import pytest

from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import wait_for, wait_for_status
from workspaces import services as workspace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.slow]


def is_first_turn(request: dict) -> bool:
    return len(request["body"]["messages"]) == 1


def test_sigkill_mid_loop_writes_once_and_pays_once_per_turn(stack, fake_claude, alice):
    swarm = build_swarm(
        alice,
        options={"review": False},
        tasks=[{"name": "Parse expressions", "description": "Write the parser [[fake:slow=150]]"}],
    )
    first = stack.worker("worker-a")
    stack.api("POST", f"/api/swarm/{swarm.id}/start")
    task = wait_for(lambda: Task.objects.filter(swarm=swarm, status="running").first(), timeout=30)
    # turn 1 answered, its tools run and stored; turn 2 streaming
    wait_for(
        lambda: ClaudeCall.objects.filter(task=task, turn=2, outcome="started").exists(),
        timeout=60,
        message="turn 2 to start",
    )
    turn_one = ClaudeCall.objects.get(task=task, turn=1)
    assert turn_one.outcome == "ok" and len(turn_one.response["tool_results"]) == 3
    first.signal(signal.SIGKILL)
    first.proc.wait(10)
    written = {f.path: f.version for f in workspace.file_list(swarm_id=swarm.id)}
    assert written == {"src/parse_expressions.py": 1, "docs/parse_expressions.md": 1}

    stack.worker("worker-b")
    wait_for_status(swarm.id, "completed", timeout=90)
    task.refresh_from_db()
    assert task.attempts == 2 and task.output.startswith("Done: wrote")
    calls = ClaudeCall.objects.filter(task=task, role="agent")
    assert sorted(calls.filter(outcome="ok").values_list("turn", flat=True)) == [1, 2]
    assert list(calls.filter(outcome="lost").values_list("turn", flat=True)) == [2]
    assert calls.get(turn=1).pk == turn_one.pk  # reused, not asked again
    agent_requests = [r for r in fake_claude.requests if "# Your task: Parse expressions" in r["text"]]
    assert len([r for r in agent_requests if is_first_turn(r)]) == 1
    for path in written:
        assert [f.version for f in workspace.file_history(swarm_id=swarm.id, path=path)] == [1]
