"""The typed event catalogue: every publish goes through a builder, one payload shape per type."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.db import transaction

from events import catalogue
from events.stream import publish
from tasks.models import Task
from tests.builders import build_swarm

ROOT = Path(__file__).resolve().parent.parent
CODE = [
    p
    for p in ROOT.glob("*/**/*.py")
    if p.parts[len(ROOT.parts)] not in ("tests", "bench") and not p.parts[len(ROOT.parts)].startswith(".")
]  # hidden folders: .venv, .venv-py3.13 (CI's other interpreters), caches


def publish_calls():
    for path in CODE:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "publish"
            ):
                yield path.relative_to(ROOT), node


def test_every_publish_in_the_code_passes_a_catalogue_builder():
    offending = []
    for path, call in publish_calls():
        built = call.args[1] if len(call.args) > 1 else None
        by_builder = (
            isinstance(built, ast.Call)
            and isinstance(built.func, ast.Attribute)
            and isinstance(built.func.value, ast.Name)
            and built.func.value.id == "catalogue"
            and built.func.attr in {b.__name__ for b in catalogue.TYPES.values()}
        )
        passed_through = (
            isinstance(built, ast.Name) and path.as_posix() == "swarms/services.py"
        )  # swarm_fail(before=)
        if not (by_builder or passed_through):
            offending.append(f"{path}:{call.lineno}")
    assert not offending, "publish() without a catalogue builder at:\n" + "\n".join(offending)
    assert sum(1 for _ in publish_calls()) > 20


def test_each_event_type_has_one_builder_and_the_builder_names_it():
    names = [builder.__name__ for builder in catalogue.TYPES.values()]
    assert len(names) == len(set(names))
    for event_type, builder in catalogue.TYPES.items():
        assert builder.event_type == event_type


@pytest.mark.django_db
def test_every_task_event_carries_the_same_task_snapshot(alice):
    swarm = build_swarm(alice, tasks=[{"name": "One", "description": "Do one thing well"}])
    task = Task.objects.only(*catalogue.TASK_FIELDS).get(swarm=swarm)
    base = set(catalogue.task_payload(task))
    built = [
        catalogue.task_created(task, dependencies=[]),
        catalogue.task_assigned(task, agent_name="a", mode="centralized"),
        catalogue.task_started(task, worker="w"),
        catalogue.task_completed(task),
        catalogue.task_reviewed(task, feedback=""),
        catalogue.task_revision_requested(task, feedback="", reviewer=None),
        catalogue.task_failed(task, reason="r"),
        catalogue.task_cancelled(task, reason="r"),
        catalogue.task_retrying(task, reason="r", attempt=1),
        catalogue.task_awaiting_approval(task),
        catalogue.task_approved(task),
        catalogue.task_rejected(task, feedback="f", revise=True),
    ]
    assert {b.type for b in built} == {t for t in catalogue.TYPES if t.startswith("task.")}
    assert all(base <= set(b.data) for b in built)


@pytest.mark.django_db
def test_publish_refuses_a_payload_that_is_not_from_the_catalogue(alice):
    swarm = build_swarm(alice)
    with transaction.atomic(), pytest.raises(TypeError):
        publish(swarm.id, {"type": "task.completed"})


@pytest.mark.django_db
def test_a_tasks_settled_spend_counts_cache_tokens_as_the_swarms_does(alice):
    from tasks.models import ClaudeCall
    from tasks.services import task_score

    swarm = build_swarm(alice, tasks=[{"name": "One", "description": "Do one thing well"}])
    task = Task.objects.get(swarm=swarm)
    Task.objects.filter(pk=task.id).update(status="completed", review_pending=True)
    for cached in (0, 7):
        ClaudeCall.objects.create(
            swarm=swarm, task=task, role="agent", model="m", outcome="ok", input_tokens=10,
            output_tokens=5, cache_creation_input_tokens=cached, cache_read_input_tokens=cached, cost_usd="0.5",
        )  # fmt: skip
    with transaction.atomic():
        scored = task_score(task_id=task.id, quality=0.5, feedback="")
    assert (scored.input_tokens, scored.output_tokens, float(scored.cost_usd)) == (34, 10, 1.0)
    assert scored.review_pending is False
