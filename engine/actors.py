"""Dramatiq actors: they take ids, call one engine entry, and are safe to run twice."""

from __future__ import annotations

import dramatiq
from django.conf import settings

from engine import planner, runner, scheduler
from webhooks import services as webhook_services

# a task may run up to its timeout plus its review; our watchdog enforces the real limit
_RUN_LIMIT_MS = int((settings.TASK_TIMEOUT_MINUTES + 5) * 60_000)


@dramatiq.actor(max_retries=3, min_backoff=1000, time_limit=30 * 60_000)
def plan_swarm(swarm_id: str) -> None:
    planner.plan(swarm_id=swarm_id)


@dramatiq.actor(max_retries=5, min_backoff=200)
def schedule() -> None:
    scheduler.fill()


@dramatiq.actor(max_retries=5, min_backoff=200)
def dispatch_swarm(swarm_id: str) -> None:
    """Messages queued by a previous version (per-swarm dispatch): the scheduler fills for all."""
    scheduler.fill()


@dramatiq.actor(max_retries=3, min_backoff=1000, time_limit=_RUN_LIMIT_MS)
def run_task(task_id: str, assignment_seq: int) -> None:
    runner.run(task_id=task_id, assignment_seq=assignment_seq)


@dramatiq.actor(max_retries=3, min_backoff=1000)
def deliver_webhook(delivery_id: int) -> None:
    """One attempt of a webhook delivery; the service schedules the next one itself (delayed)."""
    webhook_services.delivery_attempt(delivery_id=delivery_id)
