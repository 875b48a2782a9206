"""Dramatiq actors: they take ids, call one engine entry, and are safe to run twice.

The engine modules are imported inside the actors: every process that sends work loads this
module (Django registers the actors at start-up), but only workers run them. That keeps the
anthropic SDK out of processes that never call Claude, such as the Lambda API function, whose
cold start it would lengthen by a quarter (README "Serverless (AWS Lambda)").
"""

from __future__ import annotations

import dramatiq
from django.conf import settings

# a task may run up to its timeout plus its review; our watchdog enforces the real limit
_RUN_LIMIT_MS = int((settings.TASK_TIMEOUT_MINUTES + 5) * 60_000)


# planning, then (the plan applied) the first task that fill assigns, in the same thread
@dramatiq.actor(max_retries=3, min_backoff=1000, time_limit=30 * 60_000 + _RUN_LIMIT_MS)
def plan_swarm(swarm_id: str) -> None:
    from engine import planner, runner

    if planner.plan(swarm_id=swarm_id):
        runner.fill_and_run()


@dramatiq.actor(max_retries=5, min_backoff=200, time_limit=_RUN_LIMIT_MS)
def schedule() -> None:
    from engine import runner

    runner.fill_and_run()


@dramatiq.actor(max_retries=5, min_backoff=200)
def dispatch_swarm(swarm_id: str) -> None:
    """Messages queued by a previous version (per-swarm dispatch): the scheduler fills for all."""
    from engine import scheduler

    scheduler.fill()


@dramatiq.actor(max_retries=5, min_backoff=200)
def settle_swarm(swarm_id: str) -> None:
    """A command closed a task outside a worker (an approval, a rejection): settle the swarm."""
    from engine import settle

    settle.settle(swarm_id)


@dramatiq.actor(max_retries=3, min_backoff=1000, time_limit=_RUN_LIMIT_MS)
def run_task(task_id: str, assignment_seq: int) -> None:
    from engine import runner

    runner.run(task_id=task_id, assignment_seq=assignment_seq)


@dramatiq.actor(max_retries=3, min_backoff=1000)
def deliver_webhook(delivery_id: int) -> None:
    """One attempt of a webhook delivery; the service schedules the next one itself (delayed)."""
    from webhooks import services as webhook_services

    webhook_services.delivery_attempt(delivery_id=delivery_id)
