from __future__ import annotations

from django.contrib import admin

from agents.models import Agent
from core.adminkit import ReadOnlyAdmin, changelist_url, links


@admin.register(Agent)
class AgentAdmin(ReadOnlyAdmin):
    """The engine's record of an agent: read-only. Spawn agents through the API; terminate them
    through the API or the "Terminate" action (swarms.admin adds it: it needs the swarm service)."""

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
        "related",
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

    @admin.display(description="Related")
    def related(self, agent: Agent) -> str:
        return links(
            [
                ("its tasks", changelist_url("tasks.task", assigned_agent__id__exact=agent.id)),
                ("the swarm's agents", changelist_url("agents.agent", swarm__id__exact=agent.swarm_id)),
            ]
        )
