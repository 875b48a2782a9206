"""Agent request validation and response shape (the spec's List Agents item)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Agent
from agents.registry import AGENT_TYPES
from core.responses import SpendSerializer, spend_of
from core.validation import NAME_PATTERN, JSONObjectField


class AgentSpawnSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=list(AGENT_TYPES))
    name = serializers.RegexField(
        NAME_PATTERN,
        min_length=3,
        max_length=50,
        required=False,
        error_messages={"invalid": "Use letters, digits, '-' and '_' only, starting with a letter or digit"},
    )
    capabilities = JSONObjectField(required=False, default=dict)


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
