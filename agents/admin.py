from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.models import Agent, AgentType
from agents.serializers import AgentTypeCreateSerializer
from agents.services import AGENT_TYPE_FIELDS, agent_type_create, agent_type_delete, agent_type_update
from core.adminkit import ReadOnlyAdmin, changelist_url, links
from core.errors import ApplicationError, flatten_errors


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


class AgentTypeForm(forms.ModelForm):
    """The API's rules (agents/serializers.py), so the admin cannot save what the API refuses."""

    class Meta:
        model = AgentType
        fields = [
            "name",
            "owner",
            "description",
            "system_prompt",
            "capabilities",
            "model",
            "tools",
            "max_turns",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.instance.pk:
            if not data.get("owner"):
                self.add_error("owner", "Built-in (global) types come from agents/registry.py; give an owner")
            if AgentType.objects.filter(owner__isnull=True, name=data.get("name")).exists():
                self.add_error("name", "This is the name of a built-in agent type; choose another")
        payload = {
            "name": data.get("name"),
            "description": data.get("description") or "",
            "systemPrompt": data.get("system_prompt"),
            "capabilities": data.get("capabilities"),
            "model": data.get("model") or None,
            "tools": data.get("tools") if data.get("tools") is not None else [],
            "maxTurns": data.get("max_turns"),
        }
        serializer = AgentTypeCreateSerializer(data=payload)
        if not serializer.is_valid():
            for detail in flatten_errors(serializer.errors, payload):
                field = detail["field"].split(".")[0]
                self.add_error(_FORM_FIELDS.get(field), detail["message"])
        return data


_FORM_FIELDS = {"name": "name", "systemPrompt": "system_prompt", "maxTurns": "max_turns", "model": "model"}
_FORM_FIELDS |= {"description": "description", "capabilities": "capabilities", "tools": "tools"}


@admin.register(AgentType)
class AgentTypeAdmin(admin.ModelAdmin):
    """Built-ins are read only (they follow agents/registry.py); writes go through the services."""

    form = AgentTypeForm
    list_display = ["name", "owner", "model", "max_turns", "builtin", "updated_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter), "model"]
    search_fields = ["name", "description", "owner__username"]
    list_select_related = ["owner"]

    @admin.display(boolean=True)
    def builtin(self, row: AgentType) -> bool:
        return row.is_builtin

    def get_readonly_fields(self, request: HttpRequest, obj: AgentType | None = None) -> list[str]:
        return ["name", "owner"] if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: AgentType | None = None) -> bool:
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_builtin)

    def has_delete_permission(self, request: HttpRequest, obj: AgentType | None = None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_builtin)

    def save_model(self, request: HttpRequest, obj: AgentType, form: Any, change: bool) -> None:
        fields = {name: getattr(obj, name) for name in AGENT_TYPE_FIELDS}
        if change:
            agent_type_update(agent_type=obj, changes=fields)
        else:
            created = agent_type_create(owner=obj.owner, name=obj.name, **fields)
            obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: AgentType) -> None:
        try:
            agent_type_delete(agent_type=obj)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AgentType]) -> None:
        for row in queryset:
            self.delete_model(request, row)
