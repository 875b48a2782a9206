"""core/prepared.py: a read compiled once gives, for every new set of values, exactly what the
queryset itself would (model instances with their select_related rows, values, slices)."""

from __future__ import annotations

import pytest

from core.prepared import Prepared, PreparedUpdate, Update, update, update_chain
from tasks.models import Task
from tests.builders import build_swarm

pytestmark = pytest.mark.django_db


@pytest.fixture
def swarms(alice):
    return [
        build_swarm(alice, agents=[("coder", f"c{n}")], tasks=[{"name": f"T{n}.{i}"} for i in range(3)])
        for n in range(2)
    ]


def by_swarm(key, swarm_id):
    return Task.objects.select_related("swarm").filter(swarm_id=swarm_id).order_by("sequence")


def test_each_call_binds_its_own_values_into_the_sql_compiled_once(swarms, django_assert_num_queries):
    read = Prepared(by_swarm, swarm_id=str)
    for swarm in [*swarms, *swarms]:
        with django_assert_num_queries(1):  # the swarm came with its task: select_related holds
            rows = read.read(swarm_id=swarm.id)
            assert [t.swarm.objective for t in rows] == [swarm.objective] * 3
        plain = list(by_swarm(None, swarm.id))
        assert [(t.pk, t.name, t.status, t.swarm_id) for t in rows] == [
            (t.pk, t.name, t.status, t.swarm_id) for t in plain
        ]
    assert len(read._compiled) == 1


def test_a_key_is_a_shape_of_its_own_and_ints_bind_too(swarms):
    read = Prepared(
        lambda window, swarm_id, sequence: (
            Task.objects.filter(swarm_id=swarm_id, sequence__gte=sequence)
            .order_by("sequence")
            .values_list("name", flat=True)[window[0] : window[1]]
        ),
        swarm_id=str,
        sequence=int,
    )
    swarm = swarms[1]
    second = Task.objects.get(swarm=swarm, name="T1.1").sequence
    assert read.read((0, 10), swarm_id=swarm.id, sequence=0) == ["T1.0", "T1.1", "T1.2"]
    assert read.read((0, 1), swarm_id=swarm.id, sequence=second) == ["T1.1"]
    assert read.read((1, 10), swarm_id=swarms[0].id, sequence=0) == ["T0.1", "T0.2"]
    assert read.read((0, 10), swarm_id="swarm_none", sequence=0) == []
    assert len(read._compiled) == 3


def test_values_rows_and_annotations_come_back_as_the_queryset_gives_them(swarms):
    from django.db.models import Count

    read = Prepared(
        lambda key, status: (
            Task.objects.filter(status=status).values("swarm_id").annotate(n=Count("id")).order_by("swarm_id")
        ),
        status=str,
    )
    assert read.read(status="pending") == sorted(
        [{"swarm_id": s.id, "n": 3} for s in swarms], key=lambda row: row["swarm_id"]
    )
    assert read.read(status="running") == []


def test_a_parameter_the_sql_does_not_use_is_refused_at_compile_time(swarms):
    read = Prepared(lambda key, swarm_id: Task.objects.all(), swarm_id=str)
    with pytest.raises(ValueError, match="swarm_id"):
        read.read(swarm_id=swarms[0].id)


def _row(task_id):
    return Task.objects.values(
        "status", "output", "artifacts", "quality", "attempts", "completed_at", "cost_usd", "lease_owner"
    ).get(pk=task_id)


def test_an_update_writes_what_queryset_update_writes(swarms):
    from decimal import Decimal

    from django.db.models import F
    from django.utils import timezone

    first, second = swarms[0].tasks.order_by("sequence")[:2]
    now = timezone.now()
    values = {
        "status": Task.Status.COMPLETED,
        "output": "done: 'quoted' \\ text",
        "artifacts": [{"type": "code", "content": "x = 1"}],  # JSON, prepared by its field
        "quality": None,
        "completed_at": now,
        "cost_usd": Decimal("0.012345"),
        "lease_owner": "",
    }
    rows = update(
        Task, where={"pk": first.pk, "status": Task.Status.PENDING}, values=values, add={"attempts": 2}
    )
    assert rows == 1
    Task.objects.filter(pk=second.pk, status=Task.Status.PENDING).update(**values, attempts=F("attempts") + 2)
    assert _row(first.pk) == _row(second.pk)
    assert _row(first.pk)["attempts"] == 2 and _row(first.pk)["artifacts"][0]["content"] == "x = 1"


def test_an_update_whose_condition_does_not_hold_writes_nothing(swarms):
    task = swarms[0].tasks.first()
    assert update(Task, where={"pk": task.pk, "status": Task.Status.RUNNING}, values={"output": "x"}) == 0
    assert update(Task, where={"pk": task.pk}, values={}, add={"attempts": 1}) == 1
    assert update(Task, where={"pk": task.pk}, values={}) == 0  # nothing to set: no statement
    assert Task.objects.get(pk=task.pk).output == "" and Task.objects.get(pk=task.pk).attempts == 1


def test_an_update_refuses_to_filter_on_none(swarms):
    task = swarms[0].tasks.first()
    with pytest.raises(ValueError, match="lease_owner = None matches no row"):
        update(Task, where={"pk": task.pk, "lease_owner": None}, values={"output": "x"})


def test_a_chain_makes_each_update_only_after_the_one_before_it_matched(swarms):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from agents.models import Agent

    task = swarms[0].tasks.first()
    agent = Agent.objects.get(swarm=swarms[0])
    assign = Update(
        Task, where={"pk": task.pk, "status": Task.Status.PENDING}, values={"assigned_agent_id": agent.pk}
    )
    occupy = Update(
        Agent, where={"pk": agent.pk, "status": Agent.Status.IDLE}, values={"status": Agent.Status.BUSY}
    )

    with CaptureQueriesContext(connection) as queries:
        assert update_chain(assign, occupy) == [1, 1]
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)  # one round trip on PostgreSQL
    assert Task.objects.get(pk=task.pk).assigned_agent_id == agent.pk
    assert Agent.objects.get(pk=agent.pk).status == Agent.Status.BUSY

    Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.IDLE)
    stale = Update(Task, where={"pk": task.pk, "status": Task.Status.RUNNING}, values={"output": "x"})
    assert update_chain(stale, occupy) == [0, 0]  # the first matched nothing: the agent stays idle
    assert Agent.objects.get(pk=agent.pk).status == Agent.Status.IDLE

    Agent.objects.filter(pk=agent.pk).update(status=Agent.Status.BUSY)
    again = Update(Task, where={"pk": task.pk}, values={"output": "y"})
    assert update_chain(again, occupy) == [1, 0]  # the second's own condition still decides
    assert Task.objects.get(pk=task.pk).output == "y"


def test_a_chain_refuses_a_step_that_sets_nothing_and_runs_no_statement(swarms):
    task = swarms[0].tasks.first()
    empty = Update(Task, where={"pk": task.pk}, values={})
    with pytest.raises(ValueError, match="must set something"):
        update_chain(Update(Task, where={"pk": task.pk}, values={"output": "x"}), empty)
    assert Task.objects.get(pk=task.pk).output == ""  # refused before any statement
    assert update_chain() == []


def _scored(key, task_id, quality, feedback):
    from tasks.models import spend_of_calls

    rows = Task.objects.filter(pk=task_id, status=Task.Status.COMPLETED)
    return rows, {"quality": quality, "review_feedback": feedback, **spend_of_calls("task")}


def _spent(task_id):
    return Task.objects.values("quality", "review_feedback", "input_tokens", "output_tokens", "cost_usd").get(
        pk=task_id
    )


def test_a_prepared_update_writes_what_queryset_update_writes_its_expressions_included(
    swarms, django_assert_num_queries
):
    from tasks.models import ClaudeCall

    swarm = swarms[0]
    tasks = list(swarm.tasks.order_by("sequence"))
    Task.objects.filter(swarm=swarm).update(status=Task.Status.COMPLETED)
    for n, task in enumerate(tasks):
        for outcome in ("ok", "error", "started"):  # a call in flight is not spend yet
            ClaudeCall.objects.create(
                swarm=swarm, task=task, role="agent", model="m", outcome=outcome, input_tokens=10 + n,
                output_tokens=5, cache_read_input_tokens=3, cost_usd="0.25",
            )  # fmt: skip
    score = PreparedUpdate(_scored, task_id=str, quality=float, feedback=str)
    for task, quality, feedback in [(tasks[0], 0.75, "clear 'and' \\ tested"), (tasks[1], None, "")]:
        with django_assert_num_queries(1):
            assert score.run(task_id=task.pk, quality=quality, feedback=feedback) == 1
        rows, values = _scored(None, tasks[2].pk, quality, feedback)
        rows.update(**values)  # the ORM's own, on a task with the same calls but one token less each
        mine, theirs = _spent(task.pk), _spent(tasks[2].pk)
        assert mine["quality"] == theirs["quality"] == quality and mine["review_feedback"] == feedback
        assert mine["cost_usd"] == theirs["cost_usd"] == 0.5 and mine["output_tokens"] == 10
        assert mine["input_tokens"] - theirs["input_tokens"] == 2 * (tasks.index(task) - 2)
    assert len(score._compiled) == 1

    Task.objects.filter(pk=tasks[0].pk).update(status=Task.Status.RUNNING)
    assert score.run(task_id=tasks[0].pk, quality=0.1, feedback="late") == 0  # its condition holds no more
    assert _spent(tasks[0].pk)["quality"] == 0.75


def test_a_prepared_update_refuses_a_parameter_its_sql_does_not_use(swarms):
    task = swarms[0].tasks.first()
    score = PreparedUpdate(
        lambda key, task_id, feedback: (Task.objects.filter(pk=task_id), {"review_feedback": "fixed"}),
        task_id=str,
        feedback=str,
    )
    with pytest.raises(ValueError, match="feedback"):
        score.run(task_id=task.pk, feedback="x")
    assert Task.objects.get(pk=task.pk).review_feedback == ""
