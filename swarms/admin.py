"""Operators' view of swarms: agents and tasks inline; every change goes through the services
(create, lifecycle actions, delete); the engine's records (events, logs) are read-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from rest_framework import serializers

from agents.admin import AgentAdmin
from agents.models import Agent
from core.adminkit import ReadOnlyAdmin, changelist_url, links
from core.errors import ApplicationError, Conflict, flatten_errors
from core.validation import no_control_characters
from events.models import Event, LogEntry
from swarms import services
from swarms.models import Strategy, Swarm
from swarms.serializers import SwarmCreateSerializer
from tasks.models import Task


class AgentInline(admin.TabularInline):
    model = Agent
    extra = 0
    fields = ["name", "type", "instance", "status", "tasks_completed", "tasks_failed", "cost_usd"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # agents are spawned through the API (swarms.services.swarm_spawn_agent)


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

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # tasks are added through the API (swarms.services.swarm_add_task)


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


class SendBackForm(forms.Form):
    feedback = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        max_length=4000,
        help_text="What to change (up to 4000 characters), as the API's reject takes it.",
    )

    def clean_feedback(self) -> str:
        try:
            return no_control_characters(self.cleaned_data["feedback"])
        except serializers.ValidationError as exc:
            raise forms.ValidationError(exc.detail[0]) from None


@admin.action(description="Send back the task outputs awaiting approval of selected swarms (with feedback)")
def send_back_outputs(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Swarm]
) -> TemplateResponse | None:
    """An intermediate page asks for the feedback; each waiting output goes back for one revision."""
    form = SendBackForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        sent = 0
        for swarm in queryset:
            waiting = Task.objects.filter(swarm_id=swarm.id, status=Task.Status.AWAITING_APPROVAL)
            task_ids = list(waiting.values_list("id", flat=True))
            if not task_ids:
                modeladmin.message_user(
                    request, f"Swarm {swarm.id} has no task output awaiting approval", messages.WARNING
                )
            for task_id in task_ids:
                try:
                    services.swarm_reject_task(
                        swarm_id=swarm.id, task_id=task_id, feedback=form.cleaned_data["feedback"]
                    )
                    sent += 1
                except ApplicationError as exc:
                    modeladmin.message_user(request, exc.message, messages.WARNING)
        if sent:
            modeladmin.message_user(
                request, f"Sent back {sent} task output(s) for a revision.", messages.SUCCESS
            )
        return None
    waiting = Count("tasks", filter=Q(tasks__status=Task.Status.AWAITING_APPROVAL))
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Send task outputs back for a revision",
        "opts": modeladmin.model._meta,
        "form": form,
        "swarms": queryset.annotate(waiting=waiting),
        "action": "send_back_outputs",
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/swarms/send_back_outputs.html", context)


@admin.action(description="Clone selected swarms (same objective, options and plan)")
def clone_swarms(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Swarm]) -> None:
    for swarm in queryset:
        try:
            clone = services.swarm_clone(swarm_id=swarm.id, owner=request.user)
            modeladmin.message_user(request, f"Cloned {swarm.id} as {clone.id}.", messages.SUCCESS)
        except ApplicationError as exc:
            modeladmin.message_user(request, exc.message, messages.WARNING)


class SwarmAddForm(forms.ModelForm):
    """The "Add swarm" form: the API's validation (SwarmCreateSerializer), choices instead of free text."""

    strategy = forms.ChoiceField(initial="auto", help_text="a built-in strategy, or one of the owner's")
    mode = forms.ChoiceField(choices=Swarm.Mode.choices, initial=Swarm.Mode.CENTRALIZED)
    max_agents = forms.IntegerField(min_value=1, initial=5, label="Max agents")
    timeout_ms = forms.IntegerField(
        required=False, label="Timeout (ms)", help_text="30000–3600000; empty: the default"
    )
    name = forms.CharField(required=False, max_length=200, help_text="Empty: made from the objective")

    class Meta:
        model = Swarm
        fields = ["owner", "objective", "name", "strategy", "mode", "max_agents", "timeout_ms", "parallel"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # every strategy name; the API's validation then checks the chosen owner may use it
        names = sorted(set(Strategy.objects.values_list("name", flat=True)))
        self.fields["strategy"].choices = [(name, name) for name in names]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        payload = {
            "objective": data.get("objective") or "",
            "strategy": data.get("strategy"),
            "mode": data.get("mode"),
            "maxAgents": data.get("max_agents"),
            "parallel": bool(data.get("parallel")),
        }
        if data.get("name"):
            payload["name"] = data["name"]
        if data.get("timeout_ms") is not None:
            payload["timeout"] = data["timeout_ms"]
        serializer = SwarmCreateSerializer(data=payload, context={"owner": data.get("owner")})
        if not serializer.is_valid():
            fields = {"maxAgents": "max_agents", "timeout": "timeout_ms"}
            for item in flatten_errors(serializer.errors, payload):
                field = fields.get(item["field"], item["field"])
                self.add_error(field if field in self.fields else None, item["message"])
        else:
            self.service_arguments = SwarmCreateSerializer.service_arguments(serializer.validated_data)
        return data


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
        send_back_outputs,
        _action(_retry_failed, "retry the failed tasks of", "retry_failed_tasks"),
        clone_swarms,
    ]
    raw_id_fields = ["owner"]
    EDITABLE = ("name",)  # a label only; everything else is the objective as planned, or the engine's

    def get_form(self, request: HttpRequest, obj: Swarm | None = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = SwarmAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Swarm | None = None) -> list[str]:
        if obj is None:
            return list(SwarmAddForm.Meta.fields)
        return ["related", *[f.name for f in Swarm._meta.fields if f.name not in ("id",)], "id"]

    def get_readonly_fields(self, request: HttpRequest, obj: Swarm | None = None) -> list[str]:
        if obj is None:
            return []
        return ["related", *[f.name for f in Swarm._meta.fields if f.name not in self.EDITABLE]]

    def get_inlines(self, request: HttpRequest, obj: Swarm | None) -> list[Any]:
        return list(self.inlines) if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Swarm, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)  # the name only (the rest is read-only)
            return
        created = services.swarm_create(owner=form.cleaned_data["owner"], **form.service_arguments)
        obj.pk = created.pk
        obj.refresh_from_db()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except ApplicationError as exc:  # a quota, or no broker to plan it: said, nothing created
            self.message_user(request, f"Swarm not created: {exc.message}", messages.ERROR)
            return HttpResponseRedirect(request.path)

    def delete_model(self, request: HttpRequest, obj: Swarm) -> None:
        services.swarm_delete(swarm_id=obj.id)  # a running swarm is stopped first

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Swarm]) -> None:
        for swarm_id in list(queryset.values_list("id", flat=True)):
            services.swarm_delete(swarm_id=swarm_id)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # the swarm service deletes its audit trail with it (as DELETE /api/swarm/{id} does), so the
        # read-only records (events, logs, calls, files) need no delete permission of their own
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    @admin.display(description="Related")
    def related(self, swarm: Swarm) -> str:
        by_swarm = {"swarm__id__exact": swarm.id}
        items = [
            (f"{swarm.tasks.count()} tasks", changelist_url("tasks.task", **by_swarm)),
            (f"{swarm.agents.count()} agents", changelist_url("agents.agent", **by_swarm)),
            (f"{swarm.claude_calls.count()} Claude calls", changelist_url("tasks.claudecall", **by_swarm)),
            (f"{swarm.events.count()} events", changelist_url("events.event", **by_swarm)),
            (f"{swarm.logs.count()} log lines", changelist_url("events.logentry", **by_swarm)),
            ("live page", reverse("ui:swarm", args=[swarm.id])),
        ]
        return links(items)


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    list_display = ["timestamp", "swarm", "level", "source", "message"]
    list_filter = ["level", "source"]
    search_fields = ["message", "swarm__id"]
    readonly_fields = ["swarm", "timestamp", "level", "source", "message", "data"]
    list_select_related = ["swarm"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
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


class SwarmAgentAdmin(AgentAdmin):
    """agents.admin's page plus the terminate action, which needs the swarm service (swarms sits
    above agents, so the action is added here)."""

    actions = ["terminate_agents"]

    @admin.action(description="Terminate selected agents (their running tasks go back to pending)")
    def terminate_agents(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        done = 0
        for agent in queryset.only("id", "swarm_id"):
            try:
                services.swarm_terminate_agent(swarm_id=agent.swarm_id, agent_id=agent.id)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        if done:
            self.message_user(request, f"Terminated {done} agent(s).", messages.SUCCESS)


admin.site.unregister(Agent)
admin.site.register(Agent, SwarmAgentAdmin)
