"""Task request validation (the spec's Joi rules) and response shape (List Tasks item)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.responses import SpendSerializer, spend_of
from core.validation import StrictBooleanField, no_control_characters
from tasks.models import Task

TASK_TYPES = ["research", "coding", "testing", "review", "analysis", "design", "custom"]
PRIORITIES = {label: value for value, label in Task.Priority.choices}


class RequirementsSerializer(serializers.Serializer):
    capabilities = serializers.ListField(
        child=serializers.CharField(max_length=64), default=list, max_length=20
    )
    tools = serializers.ListField(child=serializers.CharField(max_length=64), default=list, max_length=20)
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=["read", "write", "execute"]),
        default=lambda: ["read"],
        max_length=3,
    )


@extend_schema_field(RequirementsSerializer)
class RequirementsField(serializers.DictField):
    """The stored requirements as they are (a planned task has only `capabilities`), documented
    as the requirements a create accepts."""


class TaskCreateSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=3, max_length=200, validators=[no_control_characters])
    description = serializers.CharField(min_length=10, max_length=1000, validators=[no_control_characters])
    type = serializers.ChoiceField(choices=TASK_TYPES)
    priority = serializers.ChoiceField(choices=list(PRIORITIES), default="normal")
    requirements = RequirementsSerializer(required=False, default=lambda: RequirementsSerializer({}).data)
    dependencies = serializers.ListField(
        child=serializers.CharField(max_length=40), default=list, max_length=100
    )
    requiresApproval = StrictBooleanField(default=False)

    def validate_priority(self, value: str) -> int:
        return PRIORITIES[value]


class TaskAssignSerializer(serializers.Serializer):
    agentId = serializers.CharField(max_length=40)


class TaskIdSerializer(serializers.Serializer):
    id = serializers.CharField()
    swarmId = serializers.CharField(source="swarm_id")
    sequence = serializers.IntegerField()
    priority = serializers.IntegerField()


class AssigneeSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()


class ArtifactSerializer(serializers.Serializer):
    path = serializers.CharField()
    language = serializers.CharField()
    content = serializers.CharField()


class TaskResultSerializer(serializers.Serializer):
    output = serializers.CharField()
    artifacts = ArtifactSerializer(many=True)
    quality = serializers.FloatField(allow_null=True)
    executionTime = serializers.IntegerField(source="execution_time_ms", allow_null=True)


class TaskSerializer(serializers.Serializer):
    id = TaskIdSerializer(source="*")
    name = serializers.CharField()
    description = serializers.CharField()
    type = serializers.CharField()
    priority = serializers.CharField(source="get_priority_display")
    status = serializers.ChoiceField(choices=Task.Status.values)
    agentType = serializers.CharField(source="agent_type")
    assignedTo = serializers.SerializerMethodField()
    pinned = serializers.BooleanField()
    dependencies = serializers.SerializerMethodField()
    requirements = RequirementsField()
    result = serializers.SerializerMethodField()
    attempts = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)
    failureReason = serializers.CharField(source="failure_reason", allow_null=True)
    revisions = serializers.IntegerField(source="revision_count")
    requiresApproval = serializers.BooleanField(source="requires_approval")
    awaitingSince = serializers.DateTimeField(source="awaiting_since", allow_null=True)
    spend = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)

    @extend_schema_field(AssigneeSerializer(allow_null=True))
    def get_assignedTo(self, task: Task) -> dict[str, Any] | None:
        agent = task.assigned_agent
        return {"id": agent.id, "name": agent.name, "type": agent.type} if agent else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_dependencies(self, task: Task) -> list[str]:
        # prefetched on list endpoints; one query for a single task
        return [dep.id for dep in task.dependencies.all()]

    @extend_schema_field(TaskResultSerializer(allow_null=True))
    def get_result(self, task: Task) -> dict[str, Any] | None:
        if task.status not in (Task.Status.COMPLETED, Task.Status.AWAITING_APPROVAL):
            return None  # an output awaiting approval is shown: it is what the approver judges
        return TaskResultSerializer(task).data

    @extend_schema_field(SpendSerializer)
    def get_spend(self, task: Task) -> dict[str, Any]:
        return spend_of(task)

    def to_representation(self, task: Task) -> dict[str, Any]:
        data = super().to_representation(task)
        data["error"] = data["error"] or None
        data["failureReason"] = data["failureReason"] or None
        return data
