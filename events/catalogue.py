"""Every event type the stream carries: one builder per type, one payload shape per type.

`stream.publish()` takes only what these builders return, so a payload cannot drift between the
places that announce the same change. Builders read model instances by attribute (they sit below
the apps that define those models); tasks carry `TASK_FIELDS`, agents `AGENT_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.responses import spend_of as spend

TYPES: dict[str, Callable[..., Built]] = {}
TASK_FIELDS = (
    "id", "swarm_id", "sequence", "name", "type", "priority", "status", "assigned_agent_id", "attempts",
    "revision_count", "quality", "execution_time_ms", "output", "error", "input_tokens", "output_tokens",
    "cost_usd",
)  # fmt: skip
AGENT_FIELDS = (
    "id",
    "swarm_id",
    "name",
    "type",
    "status",
    "capabilities",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)
_PRIORITIES = {1: "low", 2: "normal", 3: "high", 4: "critical"}


@dataclass(frozen=True)
class Built:
    type: str
    data: dict[str, Any]


def _event(event_type: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., Built]]:
    def register(builder: Callable[..., dict[str, Any]]) -> Callable[..., Built]:
        def build(*args: Any, **kwargs: Any) -> Built:
            return Built(event_type, builder(*args, **kwargs))

        build.__name__ = builder.__name__
        build.__doc__ = builder.__doc__
        build.event_type = event_type  # type: ignore[attr-defined]
        TYPES[event_type] = build
        return build

    return register


def task_payload(task: Any) -> dict[str, Any]:
    """The compact task snapshot every task.* event carries (the full output stays in /results)."""
    return {
        "id": task.id,
        "sequence": task.sequence,
        "name": task.name,
        "type": task.type,
        "priority": _PRIORITIES.get(task.priority, str(task.priority)),
        "status": task.status,
        "agentId": task.assigned_agent_id,
        "attempts": task.attempts,
        "revisions": task.revision_count,
        "quality": task.quality,
        "executionTime": task.execution_time_ms,
        "outputPreview": task.output[:300],
        "error": task.error or None,
        "spend": spend(task),
    }


def agent_payload(agent: Any) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "type": agent.type,
        "status": agent.status,
        "capabilities": agent.capabilities,
        "spend": spend(agent),
    }


# --- swarm -------------------------------------------------------------------------------------


@_event("swarm.created")
def swarm_created(swarm: Any) -> dict[str, Any]:
    return {
        "status": swarm.status,
        "objective": swarm.objective,
        "strategy": swarm.strategy,
        "mode": swarm.mode,
        "maxAgents": swarm.max_agents,
    }


@_event("swarm.planned")
def swarm_planned(*, status: str, agents: int, tasks: int) -> dict[str, Any]:
    return {"status": status, "agents": agents, "tasks": tasks}


@_event("swarm.started")
def swarm_started() -> dict[str, Any]:
    return {"status": "executing"}


@_event("swarm.paused")
def swarm_paused() -> dict[str, Any]:
    return {"status": "paused"}


@_event("swarm.resumed")
def swarm_resumed() -> dict[str, Any]:
    return {"status": "executing"}


@_event("swarm.completed")
def swarm_completed() -> dict[str, Any]:
    return {"status": "completed"}


@_event("swarm.failed")
def swarm_failed(*, reason: str, **details: Any) -> dict[str, Any]:
    return {"status": "failed", "reason": reason, **details}


@_event("swarm.stopped")
def swarm_stopped(*, reason: str) -> dict[str, Any]:
    return {"status": "stopped", "reason": reason}


@_event("swarm.awaiting_approval")
def swarm_awaiting_approval(*, plan: dict[str, Any]) -> dict[str, Any]:
    """The plan (agents, tasks, dependencies, estimated cost) waits for a person's approval."""
    return {"status": "awaiting_approval", "plan": plan}


@_event("swarm.approved")
def swarm_approved(*, status: str) -> dict[str, Any]:
    return {"status": status}


@_event("swarm.rejected")
def swarm_rejected(*, status: str, feedback: str, replan: bool) -> dict[str, Any]:
    """A rejected plan: planned again with the feedback (status planning), or the swarm stopped."""
    return {"status": status, "feedback": feedback, "replan": replan}


@_event("swarm.reopened")
def swarm_reopened(*, previous: str, reason: str) -> dict[str, Any]:
    """A finished swarm got work again (a new task, a retried one): executing once more."""
    return {"status": "executing", "previousStatus": previous, "reason": reason}


@_event("swarm.cloned")
def swarm_cloned(*, source: str, agents: int, tasks: int) -> dict[str, Any]:
    """A copy of another swarm's objective, options and plan: ready to start, no planning call."""
    return {"status": "ready", "clonedFrom": source, "agents": agents, "tasks": tasks}


@_event("budget.exceeded")
def budget_exceeded(*, budget: dict[str, Any], spent: dict[str, Any]) -> dict[str, Any]:
    return {"budget": budget, "spend": spent}


@_event("system.alert")
def system_alert(
    *, level: str, message: str, state: dict[str, Any], resource: str = "", kind: str = "resources"
) -> dict[str, Any]:
    """kind: `resources` (the resource guard) or `webhook` (a failing webhook was disabled)."""
    return {"type": kind, "resource": resource, "level": level, "message": message, **state}


@_event("log")
def log_line(*, entry_id: int, level: str, source: str, message: str) -> dict[str, Any]:
    return {"id": entry_id, "level": level, "source": source, "message": message}


# --- agents ------------------------------------------------------------------------------------


@_event("agent.spawned")
def agent_spawned(agent: Any) -> dict[str, Any]:
    return agent_payload(agent)


@_event("agent.status_changed")
def agent_status_changed(*, agent_id: str, status: str, task_id: str | None = None) -> dict[str, Any]:
    return {"id": agent_id, "status": status, "taskId": task_id}


@_event("agent.terminated")
def agent_terminated(agent: Any, *, released: list[str]) -> dict[str, Any]:
    return {**agent_payload(agent), "releasedTasks": released}


# --- tasks -------------------------------------------------------------------------------------


@_event("task.created")
def task_created(task: Any, *, dependencies: list[str]) -> dict[str, Any]:
    return {**task_payload(task), "dependencies": dependencies}


@_event("task.assigned")
def task_assigned(task: Any, *, agent_name: str, mode: str, pinned: bool = False) -> dict[str, Any]:
    return {**task_payload(task), "agentName": agent_name, "mode": mode, "pinned": pinned}


@_event("task.started")
def task_started(task: Any, *, worker: str) -> dict[str, Any]:
    return {**task_payload(task), "worker": worker}


@_event("task.completed")
def task_completed(task: Any) -> dict[str, Any]:
    return task_payload(task)


@_event("task.reviewed")
def task_reviewed(task: Any, *, feedback: str) -> dict[str, Any]:
    return {**task_payload(task), "feedback": feedback}


@_event("task.revision_requested")
def task_revision_requested(task: Any, *, feedback: str, reviewer: str | None) -> dict[str, Any]:
    return {**task_payload(task), "feedback": feedback, "reviewer": reviewer}


@_event("task.awaiting_approval")
def task_awaiting_approval(task: Any) -> dict[str, Any]:
    return task_payload(task)


@_event("task.approved")
def task_approved(task: Any) -> dict[str, Any]:
    return task_payload(task)


@_event("task.rejected")
def task_rejected(task: Any, *, feedback: str, revise: bool) -> dict[str, Any]:
    """revise: sent back for a revision with the feedback; else cancelled."""
    return {**task_payload(task), "feedback": feedback, "revise": revise}


@_event("task.failed")
def task_failed(task: Any, *, reason: str) -> dict[str, Any]:
    return {**task_payload(task), "reason": reason}


@_event("task.cancelled")
def task_cancelled(task: Any, *, reason: str) -> dict[str, Any]:
    return {**task_payload(task), "reason": reason}


@_event("task.retrying")
def task_retrying(
    task: Any, *, reason: str, attempt: int, error: str | None = None, delay_s: float | None = None
) -> dict[str, Any]:
    return {
        **task_payload(task),
        "reason": reason,
        "attempt": attempt,
        "error": error,
        "delaySeconds": delay_s,
    }


# --- workspace ---------------------------------------------------------------------------------


@_event("workspace.file_written")
def workspace_file_written(file: Any) -> dict[str, Any]:
    """A new version of a workspace file (its content is read through the API)."""
    return {"path": file.path, "size": file.size, "version": file.version, "taskId": file.task_id}
