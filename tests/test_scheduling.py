"""The scheduler: fair shares between owners, and a freed slot taken at once by any swarm."""

from __future__ import annotations

import time

import pytest

from swarms.services import swarm_start, swarm_stop
from tasks.models import Task
from tests.builders import build_swarm
from tests.helpers import wait_for, wait_for_status

pytestmark = pytest.mark.django_db(transaction=True)


def running_of(swarm) -> int:
    return Task.objects.filter(swarm=swarm, status__in=Task.IN_FLIGHT).count()


def test_one_owners_hanging_calls_cannot_hold_another_owners_slots(workers, alice, bob, settings):
    settings.MAX_CONCURRENT_TASKS, settings.MAX_CONCURRENT_TASKS_PER_USER = 4, 2
    hanging = build_swarm(
        alice,
        agents=[("coder", f"coder-{i}") for i in range(4)],
        options={"review": False},
        tasks=[{"name": f"Hang {i}", "description": f"Never answered [[fake:hang]] {i}"} for i in range(4)],
    )
    swarm_start(swarm_id=hanging.id)
    wait_for(lambda: running_of(hanging) == 2, message="alice's first two tasks to run")
    time.sleep(0.3)
    assert running_of(hanging) == 2  # capped at MAX_CONCURRENT_TASKS_PER_USER, two slots stay free

    quick = build_swarm(
        bob, options={"review": False}, tasks=[{"name": "Quick", "description": "Answer at once"}]
    )
    started = time.monotonic()
    swarm_start(swarm_id=quick.id)
    wait_for_status(quick.id, "completed", timeout=10)
    assert time.monotonic() - started < 5  # no slot release of alice's was needed
    assert running_of(hanging) == 2
    swarm_stop(swarm_id=hanging.id)


def test_a_freed_slot_goes_to_another_swarm_at_once_without_housekeeping(
    workers, alice, bob, settings, monkeypatch
):
    from engine import housekeeping

    settings.MAX_CONCURRENT_TASKS, settings.MAX_CONCURRENT_TASKS_PER_USER = 1, 1
    monkeypatch.setattr(housekeeping, "kick_executing_swarms", lambda: 0)  # no recovery pass may fill it
    first = build_swarm(
        alice,
        options={"review": False},
        tasks=[{"name": "First", "description": "Slow one [[fake:latency=500]]"}],
    )
    second = build_swarm(
        bob, options={"review": False}, tasks=[{"name": "Second", "description": "Waits for the slot"}]
    )
    swarm_start(swarm_id=first.id)
    wait_for(lambda: running_of(first) == 1)
    swarm_start(swarm_id=second.id)  # no room: it waits for the slot, not for housekeeping
    wait_for_status(first.id, "completed", timeout=10)
    wait_for_status(second.id, "completed", timeout=5)
    done = Task.objects.get(swarm=first).completed_at
    assigned = Task.objects.get(swarm=second).assigned_at
    assert assigned >= done and (assigned - done).total_seconds() < 1.0


def test_a_review_lost_with_its_process_does_not_hold_the_swarm_forever(alice, settings):
    from django.utils import timezone

    from engine.housekeeping import release_lost_reviews
    from swarms.models import Swarm

    swarm = build_swarm(alice, tasks=[{"name": "Done", "description": "Its review never came back"}])
    Swarm.objects.filter(pk=swarm.id).update(status="executing", started_at=timezone.now())
    long_ago = timezone.now() - timezone.timedelta(hours=1)
    Task.objects.filter(swarm=swarm).update(status="completed", review_pending=True, completed_at=long_ago)
    assert release_lost_reviews() == 1
    assert Swarm.objects.get(pk=swarm.id).status == "completed"
    assert Task.objects.get(swarm=swarm).review_pending is False
