from __future__ import annotations

from django.contrib import admin

from tasks.models import ClaudeCall, Task


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
    raw_id_fields = ["swarm", "assigned_agent"]
    filter_horizontal = ["dependencies"]
    # results are written by the engine only
    readonly_fields = [
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


@admin.register(ClaudeCall)
class ClaudeCallAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "role",
        "swarm",
        "task",
        "model",
        "outcome",
        "status_code",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
    ]
    list_filter = ["role", "outcome", "model"]
    search_fields = ["request_id", "swarm__id", "task__id"]
    list_select_related = ["swarm", "task"]
    readonly_fields = [f.name for f in ClaudeCall._meta.fields]
