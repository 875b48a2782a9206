"""The three coordination modes behave differently, observably; concurrency limits hold."""

from __future__ import annotations

import pytest

from events.models import Event
from swarms.services import swarm_start
from tasks.models import ClaudeCall, Task
from tests.builders import agent_named, build_swarm
from tests.helpers import wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)

# Two coders: "generalist" also tests (spawned first, so idle longest); "plain" only codes.
AGENTS = [("coder", "generalist", {"testing": True}), ("coder", "plain")]
TASKS = [
    {
        "name": "Build",
        "description": "Write the code [[fake:slow=60]]",
        "priority": 4,
        "capabilities": ["codeGeneration"],
    },
    {
        "name": "Check",
        "description": "Write the tests [[fake:slow=60]]",
        "priority": 1,
        "capabilities": ["testing"],
    },
]


def run(alice, mode: str, **extra):
    swarm = build_swarm(alice, agents=AGENTS, tasks=TASKS, mode=mode, options={"review": False}, **extra)
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    return swarm, {t.name: t for t in Task.objects.filter(swarm=swarm).select_related("assigned_agent")}


def overlapped(a: Task, b: Task) -> bool:
    return a.started_at < b.completed_at and b.started_at < a.completed_at


def test_centralized_gives_each_task_the_best_fitting_agent(workers, alice):
    swarm, tasks = run(alice, "centralized")
    # the critical task goes to the coder with no capability to spare; the tester task to the other
    assert tasks["Build"].assigned_agent.name == "plain"
    assert tasks["Check"].assigned_agent.name == "generalist"
    assert overlapped(tasks["Build"], tasks["Check"])
    modes = set(Event.objects.filter(swarm=swarm, type="task.assigned").values_list("data__mode", flat=True))
    assert modes == {"centralized"}


def test_distributed_lets_idle_agents_claim_the_best_task_they_can_do(workers, alice):
    swarm, tasks = run(alice, "distributed")
    # the longest-idle agent claims the highest-priority task it can do; the plain coder cannot
    # test, so the testing task waits for the generalist
    assert tasks["Build"].assigned_agent.name == "generalist"
    assert tasks["Check"].assigned_agent.name == "generalist"
    assert not overlapped(tasks["Build"], tasks["Check"])
    modes = set(Event.objects.filter(swarm=swarm, type="task.assigned").values_list("data__mode", flat=True))
    assert modes == {"distributed"}


def test_hierarchical_reviews_through_the_coordinator_revises_once_and_synthesises(workers, alice):
    swarm = build_swarm(
        alice,
        mode="hierarchical",
        agents=[("coordinator", "lead"), ("coder", "dev")],
        tasks=[
            {
                "name": "Draft",
                "description": "Write the draft [[fake:override verdict=revise x1]]",
                "agent_type": "coder",
            },
            {"name": "Extra", "description": "Write the appendix", "agent_type": "coder"},
            {
                "name": "Final synthesis",
                "description": "Combine everything",
                "agent_type": "coordinator",
                "capabilities": ["coordination"],
                "depends_on": [0, 1],
                "is_synthesis": True,
            },
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    tasks = {t.name: t for t in Task.objects.filter(swarm=swarm)}
    lead = agent_named(swarm, "lead")
    reviews = ClaudeCall.objects.filter(swarm=swarm, role="reviewer")
    assert reviews.count() == 3 and set(reviews.values_list("agent", flat=True)) == {
        lead.id
    }  # draft ×2 + extra
    assert tasks["Draft"].revision_count == 1 and tasks["Extra"].revision_count == 0
    assert Event.objects.filter(swarm=swarm, type="task.revision_requested").count() == 1
    synthesis = tasks["Final synthesis"]
    assert synthesis.assigned_agent_id == lead.id
    assert synthesis.started_at >= max(tasks["Draft"].completed_at, tasks["Extra"].completed_at)
    prompt = ClaudeCall.objects.get(task=synthesis, role="agent", turn=1)
    assert prompt.outcome == "ok" and not ClaudeCall.objects.filter(task=synthesis, role="reviewer").exists()


def test_hierarchical_planning_adds_the_coordinator_and_the_synthesis(workers, fake_claude, client_of_alice):
    swarm_id = client_of_alice.post(
        "/api/swarm/create",
        {"objective": "Write a guide to Django migrations", "mode": "hierarchical", "maxAgents": 3},
        format="json",
    ).json()["swarmId"]
    wait_for_status(swarm_id, "ready")
    tasks = list(Task.objects.filter(swarm_id=swarm_id).order_by("sequence"))
    assert tasks[-1].is_synthesis and tasks[-1].agent_type == "coordinator"
    assert set(tasks[-1].dependencies.values_list("id", flat=True)) == {t.id for t in tasks[:-1]}


def test_parallel_false_runs_one_task_at_a_time(workers, alice):
    swarm = build_swarm(
        alice,
        agents=[("coder", "a"), ("coder", "b"), ("coder", "c")],
        parallel=False,
        options={"review": False},
        tasks=[{"name": f"T{i}", "description": f"Write part {i} [[fake:slow=40]]"} for i in range(3)],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    tasks = list(Task.objects.filter(swarm=swarm))
    assert not any(overlapped(a, b) for a in tasks for b in tasks if a.id < b.id)


def test_parallel_swarms_respect_max_concurrent_tasks_across_swarms(workers, alice, settings):
    settings.MAX_CONCURRENT_TASKS = 2
    swarms = [
        build_swarm(
            alice,
            agents=[("coder", "a"), ("coder", "b"), ("coder", "c")],
            options={"review": False},
            tasks=[{"name": f"T{i}", "description": f"Write part {i} [[fake:slow=40]]"} for i in range(3)],
        )
        for _ in range(2)
    ]
    for swarm in swarms:
        swarm_start(swarm_id=swarm.id)
    for swarm in swarms:
        wait_for_status(swarm.id, "completed")
    tasks = list(Task.objects.filter(swarm__in=swarms))
    moments = sorted({t.started_at for t in tasks})
    peak = max(sum(1 for t in tasks if t.started_at <= m < t.completed_at) for m in moments)
    assert peak == 2  # parallel up to the limit, never beyond


def test_dependencies_run_in_order_and_a_failure_cancels_dependents(workers, alice):
    swarm = build_swarm(
        alice,
        options={"review": False},
        agents=[("coder", "a"), ("coder", "b")],
        tasks=[
            {"name": "Base", "description": "Write the base [[fake:400]]"},
            {"name": "Uses base", "description": "Build on the base", "depends_on": [0]},
            {"name": "Uses that", "description": "Build on that", "depends_on": [1]},
            {"name": "Independent", "description": "Write something else"},
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "failed")
    statuses = dict(Task.objects.filter(swarm=swarm).values_list("name", "status"))
    assert statuses == {
        "Base": "failed",
        "Uses base": "cancelled",
        "Uses that": "cancelled",
        "Independent": "completed",
    }
    swarm.refresh_from_db()
    assert swarm.failure_reason == "3 of 4 tasks did not complete"


def test_dependency_outputs_reach_the_dependent_prompt(workers, fake_claude, alice):
    swarm = build_swarm(
        alice,
        options={"review": False},
        tasks=[
            {"name": "Research", "description": "Find the facts"},
            {"name": "Write", "description": "Write it up", "depends_on": [0]},
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    research = Task.objects.get(swarm=swarm, name="Research")
    write_prompt = next(r["text"] for r in fake_claude.requests if "Write it up" in r["text"])
    assert research.output[:100] in write_prompt


def test_a_pinned_task_waits_for_its_agent(workers, alice):
    from swarms.services import swarm_pin_task as task_assign

    swarm = build_swarm(
        alice,
        agents=[("coder", "a"), ("coder", "b")],
        options={"review": False},
        tasks=[{"name": "Pinned", "description": "Only for b"}],
    )
    task = Task.objects.get(swarm=swarm)
    task_assign(swarm_id=swarm.id, task_id=task.id, agent_id=agent_named(swarm, "b").id)
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    assert Task.objects.get(pk=task.id).assigned_agent.name == "b"
