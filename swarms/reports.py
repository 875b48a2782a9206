"""Results and metrics of a swarm, computed from what is stored (README: "Results and metrics").

Every figure is derived from rows, never kept as separate state, so it cannot drift.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import psutil
from django.db.models import Avg, Count, F, Q, Sum
from django.utils import timezone

from agents.models import Agent
from swarms.models import Swarm
from swarms.serializers import spend_of
from tasks.models import ClaudeCall, Task
from workspaces import services as workspace
from workspaces.serializers import WorkspaceEntrySerializer

_PROCESS = psutil.Process(os.getpid())


def makespan_ms(swarm: Swarm, now: datetime | None = None) -> int:
    if swarm.started_at is None:
        return 0
    end = swarm.completed_at or now or timezone.now()
    return max(0, int((end - swarm.started_at).total_seconds() * 1000))


def task_stats(swarm: Swarm) -> dict[str, Any]:
    by_status = dict(
        Task.objects.filter(swarm=swarm)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    completed = Task.objects.filter(swarm=swarm, status=Task.Status.COMPLETED).aggregate(
        quality=Avg("quality"), latency=Avg("execution_time_ms"), busy=Sum("execution_time_ms")
    )
    return {"byStatus": {s: by_status.get(s, 0) for s in Task.Status.values}, **completed}


def efficiency(swarm: Swarm) -> float | None:
    """Share of tokens that bought a result we kept: successful calls of completed tasks (and
    the plan) over every token spent, including errors, cancelled streams and discarded drafts."""
    calls = ClaudeCall.objects.filter(swarm=swarm).exclude(outcome=ClaudeCall.Outcome.STARTED)  # in flight
    tokens = Sum("input_tokens") + Sum("output_tokens")
    total = calls.aggregate(t=tokens)["t"] or 0
    if not total:
        return None
    kept = calls.filter(outcome=ClaudeCall.Outcome.OK).filter(
        Q(task__isnull=True) | Q(task__status=Task.Status.COMPLETED, revision=F("task__revision_count"))
    )
    return round((kept.aggregate(t=tokens)["t"] or 0) / total, 4)


def results(swarm: Swarm) -> dict[str, Any]:
    completed = list(
        Task.objects.filter(swarm=swarm, status=Task.Status.COMPLETED).only(
            "id", "output", "artifacts", "quality", "execution_time_ms"
        )
    )
    stats = task_stats(swarm)
    return {
        "outputs": {t.id: t.output for t in completed},
        "artifacts": {t.id: t.artifacts for t in completed if t.artifacts},
        "workspace": WorkspaceEntrySerializer(workspace.file_list(swarm_id=swarm.pk), many=True).data,
        "overallQuality": _round(stats["quality"]),
        "totalExecutionTime": makespan_ms(swarm),
        "taskExecutionTime": stats["busy"] or 0,
        "efficiency": efficiency(swarm),
        "tasks": stats["byStatus"],
        "spend": {**spend_of(swarm), "byTask": spend_by(Task, swarm), "byAgent": spend_by(Agent, swarm)},
    }


def spend_by(model: type[Task] | type[Agent], swarm: Swarm) -> dict[str, Any]:
    rows = model.objects.filter(swarm=swarm).only("id", "input_tokens", "output_tokens", "cost_usd")
    return {row.id: spend_of(row) for row in rows}


def metrics(swarm: Swarm) -> dict[str, Any]:
    stats = task_stats(swarm)
    counts = stats["byStatus"]
    finished = counts["completed"] + counts["failed"]
    span = makespan_ms(swarm)
    agents = Agent.objects.filter(swarm=swarm).count()
    calls = ClaudeCall.objects.filter(swarm=swarm).aggregate(
        total=Count("id"),
        failed=Count("id", filter=~Q(outcome__in=[ClaudeCall.Outcome.OK, ClaudeCall.Outcome.STARTED])),
        retries=Count("id", filter=Q(attempt__gt=1)),
    )
    return {
        "throughput": round(counts["completed"] / (span / 60_000), 4) if span else 0.0,
        "latency": _round(stats["latency"], 0),
        "efficiency": efficiency(swarm),
        "reliability": round(counts["completed"] / finished, 4) if finished else None,
        "averageQuality": _round(stats["quality"]),
        "resourceUtilization": resource_utilization(),
        "agentUtilization": round((stats["busy"] or 0) / (span * agents), 4) if span and agents else 0.0,
        "tasks": counts,
        "tokens": {"input": swarm.input_tokens, "output": swarm.output_tokens, "total": swarm.total_tokens},
        "costUsd": round(float(swarm.cost_usd), 6),
        "claudeCalls": calls,
        "makespan": span,
    }


def resource_utilization() -> dict[str, float]:
    """This process: resident memory in bytes and CPU in cores busy since the last reading."""
    return {"memory": _PROCESS.memory_info().rss, "cpu": round(_PROCESS.cpu_percent(interval=None) / 100, 3)}


def _round(value: float | None, digits: int = 4) -> float | None:
    if value is None:
        return None
    return round(value, digits) if digits else int(value)
