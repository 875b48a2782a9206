"""Swarm request validation (the spec's Joi rules) and response shapes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.prepared import Prepared
from core.responses import SpendSerializer, spend_of
from core.validation import (
    NAME_PATTERN,
    StrictBooleanField,
    StrictIntegerField,
    StrictNumberField,
    no_control_characters,
    one_of_message,
)
from swarms.models import Strategy, Swarm
from swarms.selectors import plan_summary
from tasks.models import TaskStatus
from tasks.serializers import ArtifactSerializer
from workspaces.serializers import WorkspaceEntrySerializer

VERBOSITY = ("minimal", "normal", "detailed")


class ClosedSerializer(serializers.Serializer):
    """Refuses keys it does not know: a typo must not pass silently, and nothing unchecked is kept."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                known = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {key[:100]: [f"Unknown option; the known ones are: {known}"] for key in unknown[:10]}
                )
        return super().to_internal_value(data)


class BudgetSerializer(ClosedSerializer):
    maxTokens = StrictIntegerField(min_value=1, max_value=1_000_000_000, required=False, allow_null=True)
    maxCostUsd = StrictNumberField(min_value=0.000001, max_value=1_000_000, required=False, allow_null=True)


class SwarmOptionsSerializer(ClosedSerializer):
    """`options` of POST /api/swarm/create: the spec's examples plus what the engine reads.

    Only these keys are stored; the planning prompt shows the PROMPT_OPTIONS among them.
    """

    budget = BudgetSerializer(required=False)
    review = StrictBooleanField(required=False)
    includeTests = StrictBooleanField(required=False)
    includeDocumentation = StrictBooleanField(required=False)
    verbosity = serializers.ChoiceField(choices=VERBOSITY, required=False)
    languages = serializers.ListField(
        child=serializers.CharField(max_length=40, validators=[no_control_characters]),
        max_length=10,
        required=False,
    )
    notes = serializers.CharField(
        max_length=1000, trim_whitespace=True, required=False, validators=[no_control_characters]
    )
    approvePlan = StrictBooleanField(required=False)


PROMPT_OPTIONS = ("includeTests", "includeDocumentation", "verbosity", "languages", "notes")


def prompt_options(options: Any) -> dict[str, Any]:
    """The options the planner may show Claude: known, valid and meant for the plan. Swarms
    stored before options were validated may hold anything, so each key is checked again and
    whatever does not pass is left out."""
    if not isinstance(options, dict):
        return {}
    shown: dict[str, Any] = {}
    for key in PROMPT_OPTIONS:
        if key in options:
            serializer = SwarmOptionsSerializer(data={key: options[key]})
            if serializer.is_valid():
                shown[key] = serializer.validated_data[key]
    return shown


class SwarmCreateSerializer(serializers.Serializer):
    objective = serializers.CharField(
        min_length=10, max_length=2000, trim_whitespace=True, validators=[no_control_characters]
    )
    name = serializers.CharField(max_length=200, required=False, validators=[no_control_characters])
    strategy = serializers.CharField(
        max_length=32, default="auto", help_text="a built-in strategy or one of yours (GET /api/strategies)"
    )
    mode = serializers.ChoiceField(choices=Swarm.Mode.values, default=Swarm.Mode.CENTRALIZED)
    maxAgents = StrictIntegerField(min_value=1, max_value=50, default=5)
    timeout = StrictIntegerField(min_value=30_000, max_value=3_600_000, required=False)
    parallel = StrictBooleanField(default=True)
    options = SwarmOptionsSerializer(required=False, default=dict)

    def validate_strategy(self, value: str) -> str:
        """Context `owner`: whose strategies count besides the built-ins."""
        usable = sorted(
            set(Strategy.objects.visible_to(self.context.get("owner")).values_list("name", flat=True))
        )
        if value not in usable:
            raise serializers.ValidationError(
                one_of_message("strategy", usable, value) + " (GET /api/strategies describes them)"
            )
        return value

    def validate_maxAgents(self, value: int) -> int:
        if value > settings.MAX_AGENTS_PER_SWARM:
            raise serializers.ValidationError(
                f"Must not exceed this deployment's maximum of {settings.MAX_AGENTS_PER_SWARM} agents per swarm"
            )
        return value

    @staticmethod
    def service_arguments(data: dict[str, Any]) -> dict[str, Any]:
        """Validated data → keyword arguments of services.swarm_create (shared by the API and UI)."""
        return {
            "objective": data["objective"],
            "name": data.get("name", ""),
            "strategy": data["strategy"],
            "mode": data["mode"],
            "max_agents": data["maxAgents"],
            "timeout_ms": data.get("timeout"),
            "parallel": data["parallel"],
            "options": _plain(data["options"]),
        }


def _plain(value: Any) -> Any:
    """Validated data (OrderedDicts and lists of them) → plain JSON values."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class ProgressSerializer(serializers.Serializer):
    totalTasks = serializers.IntegerField()
    completedTasks = serializers.IntegerField()
    failedTasks = serializers.IntegerField()
    runningTasks = serializers.IntegerField()
    percentComplete = serializers.IntegerField()


_PROGRESS_COUNTS = ("total_tasks", "completed_tasks", "failed_tasks", "running_tasks")
_PROGRESS = Prepared(  # every GET of a swarm counts its tasks: compiled once
    lambda key, swarm_id: Swarm.objects.filter(pk=swarm_id).with_progress().values_list(*_PROGRESS_COUNTS),
    swarm_id=str,
)


def progress_of(swarm: Swarm) -> dict[str, int]:
    """Uses the counts `Swarm.objects.with_progress()` annotates, or counts them (one query)."""
    if not hasattr(swarm, "total_tasks"):
        rows = _PROGRESS.read(swarm_id=swarm.pk)
        if not rows:  # deleted since it was read
            raise Swarm.DoesNotExist(f"Swarm {swarm.pk} no longer exists")
        for name, count in zip(_PROGRESS_COUNTS, rows[0], strict=True):
            setattr(swarm, name, count)
    total = swarm.total_tasks
    return {
        "totalTasks": total,
        "completedTasks": swarm.completed_tasks,
        "failedTasks": swarm.failed_tasks,
        "runningTasks": swarm.running_tasks,
        "percentComplete": round(100 * swarm.completed_tasks / total) if total else 0,
    }


@extend_schema_field(SwarmOptionsSerializer)
class OptionsField(serializers.DictField):
    """The stored options as they are (swarms created before validation may hold other keys),
    documented as the options a create accepts."""


class SwarmSerializer(serializers.Serializer):
    """The `data` object of GET /api/swarm/{id} and each item of GET /api/swarms (read only)."""

    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(source="objective")
    objective = serializers.CharField()
    status = serializers.ChoiceField(choices=Swarm.Status.values)
    strategy = serializers.CharField()
    mode = serializers.ChoiceField(choices=Swarm.Mode.values)
    maxAgents = serializers.IntegerField(source="max_agents")
    timeout = serializers.IntegerField(source="timeout_ms")
    parallel = serializers.BooleanField()
    options = OptionsField()
    progress = serializers.SerializerMethodField()
    spend = serializers.SerializerMethodField()
    failureReason = serializers.CharField(source="failure_reason", allow_null=True)
    startRequested = serializers.BooleanField(source="start_requested")
    awaitingApprovalSince = serializers.DateTimeField(source="approval_since", allow_null=True)
    clonedFrom = serializers.CharField(source="cloned_from", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)
    updatedAt = serializers.DateTimeField(source="updated_at")

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, swarm: Swarm) -> dict[str, int]:
        return progress_of(swarm)

    @extend_schema_field(SpendSerializer)
    def get_spend(self, swarm: Swarm) -> dict[str, Any]:
        return spend_of(swarm)

    def to_representation(self, swarm: Swarm) -> dict[str, Any]:
        data = super().to_representation(swarm)
        data["failureReason"] = data["failureReason"] or None
        data["clonedFrom"] = data["clonedFrom"] or None
        return data


class PlanAgentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()


class PlanTaskSerializer(serializers.Serializer):
    id = serializers.CharField()
    sequence = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    type = serializers.CharField()
    agentType = serializers.CharField(help_text="empty: any agent with the capabilities")
    dependencies = serializers.ListField(child=serializers.CharField(), help_text="task ids")
    requiresApproval = serializers.BooleanField()


class EstimateModelsSerializer(serializers.Serializer):
    agent = serializers.CharField()
    reviewer = serializers.CharField()


class PlanEstimateSerializer(serializers.Serializer):
    """engine/estimates.py: what running the plan may cost, low and high."""

    lowUsd = serializers.FloatField()
    highUsd = serializers.FloatField()
    lowTokens = serializers.IntegerField()
    highTokens = serializers.IntegerField()
    tasks = serializers.IntegerField()
    models = EstimateModelsSerializer()
    planningSpentUsd = serializers.FloatField(help_text="what planning has cost so far")


class PlanSerializer(serializers.Serializer):
    """The plan an approver judges (swarms.selectors.plan_summary)."""

    agents = PlanAgentSerializer(many=True)
    tasks = PlanTaskSerializer(many=True, help_text="with dependencies and requiresApproval")
    estimatedCost = PlanEstimateSerializer(allow_null=True, help_text="null until planned")
    revisions = serializers.IntegerField(help_text="plans rejected with feedback so far")
    feedback = serializers.CharField(allow_null=True)


class SwarmWithPlanSerializer(SwarmSerializer):
    """GET /api/swarm/{id}: the swarm and its plan (what an approver judges; also once running)."""

    plan = serializers.SerializerMethodField()

    @extend_schema_field(PlanSerializer)
    def get_plan(self, swarm: Swarm) -> dict[str, Any]:
        return plan_summary(swarm)


class RejectSerializer(ClosedSerializer):
    """Body of POST …/reject: feedback (a new plan, or a revision of the task) or cancel."""

    feedback = serializers.CharField(
        max_length=4000,
        trim_whitespace=True,
        required=False,
        allow_blank=True,
        validators=[no_control_characters],
    )
    cancel = StrictBooleanField(required=False, default=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        feedback = data.get("feedback", "")
        if data["cancel"] and feedback:
            raise serializers.ValidationError({"cancel": ["Send either feedback or cancel, not both"]})
        if not data["cancel"] and not feedback:
            raise serializers.ValidationError(
                {"feedback": ["Say what to change (feedback), or send cancel: true to stop instead"]}
            )
        return {"feedback": feedback, "cancel": data["cancel"]}


class LogEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    timestamp = serializers.DateTimeField()
    level = serializers.CharField(source="get_level_display")
    source = serializers.CharField()
    message = serializers.CharField()
    swarmId = serializers.CharField(source="swarm_id")
    data = serializers.DictField()


class LogWindowSerializer(serializers.Serializer):
    """Which of a swarm's log lines (its filters: events.filters.LogFilter) one answer holds."""

    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100, help_text="lines")
    before = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        help_text="only lines older than this log id (the `before` of the previous answer)",
    )


# --- strategies ----------------------------------------------------------------------------------


class StrategyUpdateSerializer(ClosedSerializer):
    """PATCH /api/strategies/{name}: any of these; the name cannot change (swarms refer to it).
    Setting `guidance` turns a template strategy into a planned one, and `template` the reverse."""

    description = serializers.CharField(
        max_length=500, allow_blank=True, required=False, validators=[no_control_characters]
    )
    guidance = serializers.CharField(
        min_length=10, max_length=4000, required=False, validators=[no_control_characters]
    )
    template = serializers.JSONField(
        required=False, help_text="a plan in the submit_plan shape: {agents: [...], tasks: [...]}"
    )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and "name" in data:
            raise serializers.ValidationError(
                {"name": ["The name of a strategy cannot change; create a new one instead"]}
            )
        return super().to_internal_value(data)

    def validate_template(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError('Must be a JSON object: {"agents": [...], "tasks": [...]}')
        return value


class StrategyCreateSerializer(StrategyUpdateSerializer):
    name = serializers.RegexField(
        NAME_PATTERN,
        min_length=3,
        max_length=32,
        error_messages={"invalid": "Use letters, digits, '-' and '_' only, starting with a letter or digit"},
    )

    def to_internal_value(self, data: Any) -> Any:
        return ClosedSerializer.to_internal_value(self, data)


class StrategySerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.SerializerMethodField()
    guidance = serializers.SerializerMethodField()
    template = serializers.JSONField(allow_null=True)
    builtin = serializers.BooleanField(source="is_builtin")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_kind(self, strategy: Strategy) -> str:
        return "template" if strategy.is_template else "guidance"

    def get_guidance(self, strategy: Strategy) -> str | None:
        return strategy.guidance or None


# ---- response shapes of GET …/results and …/metrics (swarms/reports.py builds them; these only
# document them, and tests/test_openapi_docs.py validates a real swarm's answers against the schema)


# tasks by status: every status, 0 when none (built from the statuses, so a new one is documented)
TaskCountsSerializer = type(
    "TaskCountsSerializer",
    (serializers.Serializer,),
    {status: serializers.IntegerField() for status in TaskStatus.values},
)


class ResultsSpendSerializer(SpendSerializer):
    byTask = serializers.DictField(child=SpendSerializer(), help_text="by task id")
    byAgent = serializers.DictField(child=SpendSerializer(), help_text="by agent id")


class ResultsSerializer(serializers.Serializer):
    outputs = serializers.DictField(
        child=serializers.CharField(), help_text="each completed task's output, by task id"
    )
    artifacts = serializers.DictField(
        child=ArtifactSerializer(many=True),
        help_text="files extracted from completed tasks' answers, by task id (tasks with none left out)",
    )
    workspace = WorkspaceEntrySerializer(many=True, help_text="the workspace's files, latest version each")
    overallQuality = serializers.FloatField(
        allow_null=True, help_text="mean reviewer score 0–1; null if none"
    )
    totalExecutionTime = serializers.IntegerField(help_text="makespan, ms")
    taskExecutionTime = serializers.IntegerField(help_text="sum of completed tasks' execution times, ms")
    efficiency = serializers.FloatField(
        allow_null=True, help_text="kept tokens ÷ all tokens; null before any call"
    )
    tasks = TaskCountsSerializer()
    spend = ResultsSpendSerializer()


class TokensSerializer(serializers.Serializer):
    input = serializers.IntegerField()
    output = serializers.IntegerField()
    total = serializers.IntegerField()


class ClaudeCallCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    failed = serializers.IntegerField()
    retries = serializers.IntegerField()


class ResourceUtilizationSerializer(serializers.Serializer):
    memory = serializers.IntegerField(help_text="resident bytes of this server process")
    cpu = serializers.FloatField(help_text="cores busy since the last reading")


class MetricsSerializer(serializers.Serializer):
    throughput = serializers.FloatField(help_text="completed tasks per minute of makespan")
    latency = serializers.IntegerField(
        allow_null=True, help_text="mean execution time of completed tasks, ms"
    )
    efficiency = serializers.FloatField(allow_null=True)
    reliability = serializers.FloatField(
        allow_null=True, help_text="completed ÷ finished; null before any finished"
    )
    averageQuality = serializers.FloatField(allow_null=True)
    resourceUtilization = ResourceUtilizationSerializer()
    agentUtilization = serializers.FloatField()
    tasks = TaskCountsSerializer()
    tokens = TokensSerializer()
    costUsd = serializers.FloatField()
    claudeCalls = ClaudeCallCountsSerializer()
    makespan = serializers.IntegerField(help_text="ms")
