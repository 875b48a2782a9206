from __future__ import annotations

from django.contrib import admin

from agents.models import Agent


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "type",
        "instance",
        "swarm",
        "status",
        "tasks_completed",
        "tasks_failed",
        "total_execution_ms",
        "cost_usd",
    ]
    list_filter = ["status", "type"]
    search_fields = ["id", "name", "swarm__id"]
    list_select_related = ["swarm"]
    readonly_fields = [
        "id",
        "swarm",
        "instance",
        "tasks_completed",
        "tasks_failed",
        "total_execution_ms",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "created_at",
        "idle_since",
        "terminated_at",
    ]
