"""Agent and agent type request validation and response shapes (the spec's List Agents item)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Agent, AgentType
from agents.registry import TOOL_NAMES, WRITE_TOOLS
from core.claude_models import known_models
from core.responses import SpendSerializer, spend_of
from core.validation import (
    NAME_PATTERN,
    JSONObjectField,
    StrictIntegerField,
    no_control_characters,
    one_of_message,
)

_SLUG_MESSAGE = "Use letters, digits, '-' and '_' only, starting with a letter or digit"


class AgentSpawnSerializer(serializers.Serializer):
    """`type`: a built-in or one of the caller's own types (context `owner`)."""

    type = serializers.CharField(max_length=40)
    name = serializers.RegexField(
        NAME_PATTERN,
        min_length=3,
        max_length=50,
        required=False,
        error_messages={"invalid": "Use letters, digits, '-' and '_' only, starting with a letter or digit"},
    )
    capabilities = JSONObjectField(required=False, default=dict)

    def validate_type(self, value: str) -> str:
        usable = sorted(
            set(AgentType.objects.visible_to(self.context.get("owner")).values_list("name", flat=True))
        )
        if value not in usable:
            raise serializers.ValidationError(
                one_of_message("type", usable, value) + " (GET /api/agent-types describes them)"
            )
        return value


class AgentIdSerializer(serializers.Serializer):
    id = serializers.CharField()
    swarmId = serializers.CharField(source="swarm_id")
    type = serializers.CharField()
    instance = serializers.IntegerField()


class AgentMetricsSerializer(serializers.Serializer):
    tasksCompleted = serializers.IntegerField(source="tasks_completed")
    tasksFailed = serializers.IntegerField(source="tasks_failed")
    successRate = serializers.FloatField(source="success_rate", allow_null=True)
    averageExecutionTime = serializers.IntegerField(source="average_execution_ms", allow_null=True)
    totalExecutionTime = serializers.IntegerField(source="total_execution_ms")


class AgentSerializer(serializers.Serializer):
    id = AgentIdSerializer(source="*")
    name = serializers.CharField()
    type = serializers.CharField()
    status = serializers.ChoiceField(choices=Agent.Status.values)
    capabilities = serializers.DictField()
    metrics = AgentMetricsSerializer(source="*")
    spend = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    terminatedAt = serializers.DateTimeField(source="terminated_at", allow_null=True)

    @extend_schema_field(SpendSerializer)
    def get_spend(self, agent: Agent) -> dict[str, Any]:
        return spend_of(agent)


# --- agent types ---------------------------------------------------------------------------------

CAPABILITY_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"


def _capabilities(**kwargs: Any) -> serializers.ListField:
    flag = serializers.RegexField(
        CAPABILITY_PATTERN,
        max_length=40,
        error_messages={"invalid": "Use letters, digits, '-' and '_' only, starting with a letter"},
    )
    return serializers.ListField(child=flag, min_length=1, max_length=20, **kwargs)


def _tools(**kwargs: Any) -> serializers.ListField:
    choice = serializers.ChoiceField(choices=list(TOOL_NAMES))
    return serializers.ListField(child=choice, max_length=len(TOOL_NAMES), **kwargs)


class AgentTypeUpdateSerializer(serializers.Serializer):
    """PATCH /api/agent-types/{name}: any of these; the name cannot change (agents refer to it)."""

    description = serializers.CharField(
        max_length=500, allow_blank=True, required=False, validators=[no_control_characters]
    )
    systemPrompt = serializers.CharField(
        min_length=10, max_length=8000, required=False, validators=[no_control_characters]
    )
    capabilities = _capabilities(required=False)
    model = serializers.CharField(max_length=100, allow_null=True, allow_blank=True, required=False)
    tools = _tools(required=False)
    maxTurns = StrictIntegerField(min_value=1, allow_null=True, required=False)

    FIELDS = {  # camelCase → model field
        "description": "description",
        "systemPrompt": "system_prompt",
        "capabilities": "capabilities",
        "model": "model",
        "tools": "tools",
        "maxTurns": "max_turns",
    }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            errors: dict[str, list[str]] = {}
            for key in data:
                if key == "name" and key not in self.fields:
                    errors["name"] = ["The name of an agent type cannot change; create a new type instead"]
                elif key not in self.fields:
                    errors[str(key)[:100]] = [f"Unknown field; the known ones are: {', '.join(self.fields)}"]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def validate_capabilities(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))  # a repeated flag is kept once

    def validate_tools(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate_model(self, value: str | None) -> str:
        if not value:
            return ""  # the deployment's agent model
        models = known_models()
        if value not in models:
            raise serializers.ValidationError(f"Unknown model; this deployment knows: {', '.join(models)}")
        return value

    def validate_maxTurns(self, value: int | None) -> int | None:
        if value is not None and value > settings.TASK_MAX_TURNS:
            raise serializers.ValidationError(
                f"Must not exceed this deployment's TASK_MAX_TURNS ({settings.TASK_MAX_TURNS})"
            )
        return value

    @classmethod
    def service_arguments(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Validated data → keyword arguments of the agent type services (shared by the API and UI)."""
        return {cls.FIELDS[key]: value for key, value in data.items() if key in cls.FIELDS}


class AgentTypeCreateSerializer(AgentTypeUpdateSerializer):
    name = serializers.RegexField(
        NAME_PATTERN, min_length=3, max_length=40, error_messages={"invalid": _SLUG_MESSAGE}
    )
    systemPrompt = serializers.CharField(min_length=10, max_length=8000, validators=[no_control_characters])
    capabilities = _capabilities()
    tools = _tools(default=lambda: list(WRITE_TOOLS))


class AgentTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    systemPrompt = serializers.CharField(source="system_prompt")
    capabilities = serializers.ListField(child=serializers.CharField())
    model = serializers.SerializerMethodField(help_text="null: the deployment's agent model")
    tools = serializers.ListField(child=serializers.CharField())
    maxTurns = serializers.IntegerField(source="max_turns", allow_null=True, help_text="null: TASK_MAX_TURNS")
    builtin = serializers.BooleanField(source="is_builtin")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_model(self, row: AgentType) -> str | None:
        return row.model or None
