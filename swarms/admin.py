"""Operators' view of swarms: agents and tasks inline, lifecycle actions through the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.models import Agent
from core.errors import ApplicationError, Conflict
from events.models import Event, LogEntry
from swarms import services
from swarms.models import Strategy, Swarm
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


class StrategyForm(forms.ModelForm):
    """The API's rules, so the admin cannot save what the API refuses."""

    class Meta:
        model = Strategy
        fields = ["name", "owner", "description", "guidance", "template"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.instance.pk:
            if not data.get("owner"):
                self.add_error(
                    "owner", "Built-in (global) strategies come from swarms/strategies.py; give an owner"
                )
            if Strategy.objects.filter(owner__isnull=True, name=data.get("name")).exists():
                self.add_error("name", "This is the name of a built-in strategy; choose another")
        if bool(data.get("guidance")) == (data.get("template") is not None):
            self.add_error(None, "Give either guidance or a template, not both")
        elif data.get("template") is not None:
            owner = data.get("owner") or self.instance.owner
            try:
                services.check_template(data["template"], owner_id=getattr(owner, "pk", None))
            except ApplicationError as exc:
                for detail in exc.details or []:
                    self.add_error("template", f"{detail['field']}: {detail['message']}")
        return data


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    """Built-ins are read only (they follow swarms/strategies.py); writes go through the services."""

    form = StrategyForm
    list_display = ["name", "owner", "kind", "builtin", "updated_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["name", "description", "owner__username"]
    list_select_related = ["owner"]

    @admin.display(boolean=True)
    def builtin(self, row: Strategy) -> bool:
        return row.is_builtin

    @admin.display(description="kind")
    def kind(self, row: Strategy) -> str:
        return "template" if row.is_template else "guidance"

    def get_readonly_fields(self, request: HttpRequest, obj: Strategy | None = None) -> list[str]:
        return ["name", "owner"] if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: Strategy | None = None) -> bool:
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_builtin)

    def has_delete_permission(self, request: HttpRequest, obj: Strategy | None = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_builtin)

    def save_model(self, request: HttpRequest, obj: Strategy, form: Any, change: bool) -> None:
        fields = {name: getattr(obj, name) for name in services.STRATEGY_FIELDS}
        if change:
            services.strategy_update(strategy=obj, changes=fields)
        else:
            obj.pk = services.strategy_create(owner=obj.owner, name=obj.name, **fields).pk

    def delete_model(self, request: HttpRequest, obj: Strategy) -> None:
        try:
            services.strategy_delete(strategy=obj)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Strategy]) -> None:
        for row in queryset:
            self.delete_model(request, row)
