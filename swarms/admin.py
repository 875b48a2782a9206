"""Operators' view of swarms: agents and tasks inline, lifecycle actions through the services."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.models import Agent
from core.errors import ApplicationError, Conflict
from events.models import Event, LogEntry
from swarms import services
from swarms.models import Swarm
from tasks.models import Task


class AgentInline(admin.TabularInline):
    model = Agent
    extra = 0
    fields = ["name", "type", "instance", "status", "tasks_completed", "tasks_failed", "cost_usd"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    fields = [
        "sequence",
        "name",
        "type",
        "priority",
        "status",
        "assigned_agent",
        "attempts",
        "quality",
        "cost_usd",
    ]
    readonly_fields = fields
    show_change_link = True
    can_delete = False


def _action(service: Callable[..., Swarm], verb: str, name: str = "") -> Callable[..., None]:
    def run(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Swarm]) -> None:
        done = 0
        for swarm in queryset:
            try:
                service(swarm_id=swarm.id)
                done += 1
            except ApplicationError as exc:
                modeladmin.message_user(request, exc.message, messages.WARNING)
        if done:
            modeladmin.message_user(request, f"{verb.capitalize()}: {done} swarm(s).", messages.SUCCESS)

    run.short_description = f"{verb.capitalize()} selected swarms"  # type: ignore[attr-defined]
    run.__name__ = name or f"{verb}_swarms"
    return run


def _reject_plans(swarm_id: str) -> Swarm:
    return services.swarm_reject(swarm_id=swarm_id, cancel=True)


def _approve_outputs(swarm_id: str) -> Swarm:
    """Approves every task output of the swarm that awaits approval."""
    waiting = Task.objects.filter(swarm_id=swarm_id, status=Task.Status.AWAITING_APPROVAL)
    ids = list(waiting.values_list("id", flat=True))
    if not ids:
        raise Conflict(f"Swarm {swarm_id} has no task output awaiting approval")
    for task_id in ids:
        services.swarm_approve_task(swarm_id=swarm_id, task_id=task_id)
    return Swarm.objects.get(pk=swarm_id)


def _retry_failed(swarm_id: str) -> Swarm:
    """Retries the swarm's failed tasks (each with the tasks cancelled because of it)."""
    failed = list(
        Task.objects.filter(swarm_id=swarm_id, status=Task.Status.FAILED).values_list("id", flat=True)
    )
    if not failed:
        raise Conflict(f"Swarm {swarm_id} has no failed task")
    for task_id in failed:
        services.swarm_retry_task(swarm_id=swarm_id, task_id=task_id)
    return Swarm.objects.get(pk=swarm_id)


@admin.action(description="Clone selected swarms (same objective, options and plan)")
def clone_swarms(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Swarm]) -> None:
    for swarm in queryset:
        try:
            clone = services.swarm_clone(swarm_id=swarm.id, owner=request.user)
            modeladmin.message_user(request, f"Cloned {swarm.id} as {clone.id}.", messages.SUCCESS)
        except ApplicationError as exc:
            modeladmin.message_user(request, exc.message, messages.WARNING)


@admin.register(Swarm)
class SwarmAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "owner",
        "status",
        "strategy",
        "mode",
        "max_agents",
        "cost_usd",
        "created_at",
    ]
    list_filter = ["status", "strategy", "mode", "created_at"]
    search_fields = ["id", "name", "objective", "owner__username"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "status",
        "start_requested",
        "failure_reason",
        "approval_since",
        "approval_waited_ms",
        "plan_estimate",
        "plan_revisions",
        "plan_feedback",
        "rejected_plan",
        "cloned_from",
        "created_at",
        "updated_at",
        "started_at",
        "completed_at",
        "input_tokens",
        "output_tokens",
        "cost_usd",
    ]
    inlines = [AgentInline, TaskInline]
    actions = [
        _action(services.swarm_start, "start"),
        _action(services.swarm_pause, "pause"),
        _action(services.swarm_resume, "resume"),
        _action(services.swarm_stop, "stop"),
        _action(services.swarm_approve, "approve the plans of", "approve_plans"),
        _action(_reject_plans, "reject the plans of (stop)", "reject_plans"),
        _action(_approve_outputs, "approve the task outputs awaiting approval of", "approve_outputs"),
        _action(_retry_failed, "retry the failed tasks of", "retry_failed_tasks"),
        clone_swarms,
    ]


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "swarm", "level", "source", "message"]
    list_filter = ["level", "source"]
    search_fields = ["message", "swarm__id"]
    readonly_fields = ["swarm", "timestamp", "level", "source", "message", "data"]
    list_select_related = ["swarm"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "swarm", "seq", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["swarm__id", "type"]
    readonly_fields = ["swarm", "seq", "type", "data", "created_at"]
    list_select_related = ["swarm"]
