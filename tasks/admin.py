from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.adminkit import ReadOnlyAdmin, change_url, changelist_url, links
from tasks.models import ClaudeCall, Task

TRACE_FIELDS = (
    "request",
    "trace_response",
    "response",
)  # up to megabytes each: loaded on the call's page only


class ClaudeCallInline(admin.TabularInline):
    model = ClaudeCall
    extra = 0
    fields = [
        "role",
        "revision",
        "attempt",
        "model",
        "outcome",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
        "request_id",
    ]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # calls are the engine's record

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClaudeCall]:
        return super().get_queryset(request).defer(*TRACE_FIELDS)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "sequence",
        "name",
        "swarm",
        "type",
        "priority",
        "status",
        "assigned_agent",
        "attempts",
        "quality",
        "cost_usd",
    ]
    list_filter = ["status", "priority", "type"]
    search_fields = ["id", "name", "description", "swarm__id"]
    list_select_related = ["swarm", "assigned_agent"]
    # What the task asks (name, description, priority) may be edited; its place in the graph (swarm,
    # dependencies, type, assignment) and its results are the planner's and the engine's: assign,
    # add or remove tasks through the API, whose services check the graph.
    readonly_fields = [
        "related",
        "swarm",
        "sequence",
        "type",
        "agent_type",
        "requirements",
        "dependencies",
        "assigned_agent",
        "pinned",
        "id",
        "status",
        "output",
        "artifacts",
        "quality",
        "execution_time_ms",
        "attempts",
        "error",
        "failure_reason",
        "revision_count",
        "review_feedback",
        "assignment_seq",
        "lease_owner",
        "lease_expires_at",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "created_at",
        "assigned_at",
        "started_at",
        "completed_at",
    ]
    inlines = [ClaudeCallInline]

    EDITABLE = ("name", "description", "priority")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # every field but EDITABLE, including any field added to Task later
        model_fields = [f.name for f in [*Task._meta.fields, *Task._meta.many_to_many]]
        listed = [name for name in self.readonly_fields if name not in model_fields]
        return [*listed, *(name for name in model_fields if name not in self.EDITABLE)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # POST /api/swarm/{id}/tasks (swarms.services.swarm_add_task) checks the graph

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a task leaves with its swarm; deleting one would tear the graph

    @admin.display(description="Related")
    def related(self, task: Task) -> str:
        return links(
            [
                ("swarm", change_url(task.swarm)),
                ("its Claude calls", changelist_url("tasks.claudecall", task__id__exact=task.id)),
                ("the swarm's tasks", changelist_url("tasks.task", swarm__id__exact=task.swarm_id)),
                ("the swarm's events", changelist_url("events.event", swarm__id__exact=task.swarm_id)),
            ]
        )


@admin.register(ClaudeCall)
class ClaudeCallAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "role",
        "swarm",
        "task",
        "turn",
        "model",
        "outcome",
        "status_code",
        "input_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
    ]
    list_filter = ["role", "outcome", "model"]
    search_fields = ["request_id", "swarm__id", "task__id"]
    list_select_related = ["swarm", "task"]
    # the trace is shown pretty-printed and read-only; nothing about a call is editable
    exclude = list(TRACE_FIELDS)
    readonly_fields = [f.name for f in ClaudeCall._meta.fields if f.name not in TRACE_FIELDS] + [
        "request_trace",
        "response_trace",
        "reuse_answer",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClaudeCall]:
        queryset = super().get_queryset(request)
        return (
            queryset if request.resolver_match.url_name.endswith("_change") else queryset.defer(*TRACE_FIELDS)
        )

    @admin.display(description="request (as sent)")
    def request_trace(self, call: ClaudeCall) -> str:
        return _pretty(call.request)

    @admin.display(description="response (as received)")
    def response_trace(self, call: ClaudeCall) -> str:
        return _pretty(call.trace_response)

    @admin.display(description="answer kept for reuse")
    def reuse_answer(self, call: ClaudeCall) -> str:
        return _pretty(call.response)


def _pretty(value: Any) -> str:
    if value is None:
        return "—"
    return format_html('<pre class="trace-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))
