"""Tasks (the graph a swarm works through) and the record of every Claude call."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from core.ids import task_id


class TaskQuerySet(models.QuerySet["Task"]):
    def for_swarm(self, swarm: models.Model) -> TaskQuerySet:
        return self.filter(swarm=swarm)

    def in_flight(self) -> TaskQuerySet:
        return self.filter(status__in=Task.IN_FLIGHT)

    def ready(self) -> TaskQuerySet:
        """Pending tasks whose every dependency is completed, highest priority first."""
        blocked = Task.objects.filter(dependents=models.OuterRef("pk")).exclude(status=Task.Status.COMPLETED)
        return (
            self.filter(status=Task.Status.PENDING)
            .exclude(models.Exists(blocked))
            .order_by("-priority", "sequence")
        )


class TaskStatus(models.TextChoices):
    PENDING = "pending"
    ASSIGNED = "assigned"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"  # its output is in; a person approves or rejects it
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskPriority(models.IntegerChoices):
    LOW = 1, "low"
    NORMAL = 2, "normal"
    HIGH = 3, "high"
    CRITICAL = 4, "critical"


class Task(models.Model):
    """One unit of work = one Claude conversation, run by one agent at a time."""

    Status = TaskStatus
    Priority = TaskPriority

    IN_FLIGHT = (Status.ASSIGNED, Status.RUNNING)
    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    id = models.CharField(primary_key=True, max_length=40, default=task_id, editable=False)
    swarm = models.ForeignKey("swarms.Swarm", on_delete=models.CASCADE, related_name="tasks", db_index=False)
    sequence = models.PositiveIntegerField()
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    name = models.CharField(max_length=200)
    description = models.TextField()
    type = models.CharField(max_length=40)
    agent_type = models.CharField(max_length=40, blank=True, help_text="agent type the plan chose, if any")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    assigned_agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    pinned = models.BooleanField(default=False, help_text="assigned by hand: only assigned_agent may run it")
    requirements = models.JSONField(default=dict, blank=True)
    dependencies = models.ManyToManyField("self", symmetrical=False, related_name="dependents", blank=True)
    is_synthesis = models.BooleanField(default=False, help_text="hierarchical mode's final synthesis")
    requires_approval = models.BooleanField(
        default=False, help_text="its output waits in awaiting_approval until a person approves it"
    )
    awaiting_since = models.DateTimeField(null=True, blank=True, help_text="when its output began to wait")
    # result
    output = models.TextField(blank=True)
    artifacts = models.JSONField(default=list, blank=True)
    quality = models.FloatField(null=True, blank=True)
    execution_time_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expiries = models.PositiveSmallIntegerField(
        default=0, help_text="runs whose worker vanished (lease expired); graceful hand-overs do not count"
    )
    error = models.TextField(blank=True)
    failure_reason = models.CharField(max_length=64, blank=True)
    revision_count = models.PositiveSmallIntegerField(default=0)
    review_feedback = models.TextField(blank=True)
    feedback_from = models.CharField(
        max_length=12, blank=True, help_text="who wrote review_feedback: reviewer (coordinator) or approver"
    )
    review_pending = models.BooleanField(
        default=False, help_text="completed; its non-blocking review has not scored it yet (the swarm waits)"
    )
    # execution bookkeeping: a message carries assignment_seq, so a stale redelivery cannot claim
    assignment_seq = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["swarm", "sequence"], name="%(app_label)s_%(class)s_sequence_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values), name="%(app_label)s_%(class)s_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(priority__gte=1) & Q(priority__lte=4),
                name="%(app_label)s_%(class)s_priority_range",
            ),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | (Q(quality__gte=0) & Q(quality__lte=1)),
                name="%(app_label)s_%(class)s_quality_range",
            ),
        ]
        indexes = [
            models.Index(
                fields=["swarm", "status", "-priority", "sequence"], name="task_ready_idx"
            ),  # ready()
            models.Index(fields=["status", "lease_expires_at"], name="task_lease_idx"),  # the lease reaper
        ]

    def __str__(self) -> str:
        return f"{self.sequence}. {self.name} [{self.status}]"

    @property
    def required_capabilities(self) -> list[str]:
        capabilities = (
            self.requirements.get("capabilities", []) if isinstance(self.requirements, dict) else []
        )
        return [c for c in capabilities if isinstance(c, str)]


def spend_of_calls(owner: str) -> dict[str, models.Expression]:
    """Update expressions that set a Task's (owner="task") or an Agent's (owner="agent") spend to
    the sum of its recorded calls; input tokens count cache writes and reads, as the swarm's do."""

    def summed(expression: models.Expression, field: models.Field) -> models.Expression:
        # a call still in flight is not spend yet (its worker adds it when the call ends)
        calls = (
            ClaudeCall.objects.filter(**{owner: models.OuterRef("pk")})
            .exclude(outcome=ClaudeCall.Outcome.STARTED)
            .values(owner)
        )
        total = calls.annotate(n=models.Sum(expression)).values("n")
        return Coalesce(models.Subquery(total), 0, output_field=field)

    tokens_in = F("input_tokens") + F("cache_creation_input_tokens") + F("cache_read_input_tokens")
    return {
        "input_tokens": summed(tokens_in, models.PositiveBigIntegerField()),
        "output_tokens": summed(F("output_tokens"), models.PositiveBigIntegerField()),
        "cost_usd": summed(F("cost_usd"), models.DecimalField(max_digits=14, decimal_places=6)),
    }


class ClaudeCall(models.Model):
    """One request to Claude: what it cost, how long it took, and (when it finished) its answer.

    The row is written when the request starts (outcome `started`, tokens estimated: the prompt's
    size and the max_tokens asked for) and completed with the real usage when it ends. A worker
    killed meanwhile leaves it `started`; a re-run or the housekeeping marks it `lost`, and its
    estimate then counts as spend. A finished call's answer is kept so that a task re-run after a
    crash reuses it instead of paying for the same call again. Unless STORE_PROMPTS is off, the row
    also keeps the prompt trace: the request as sent and the response as received.
    """

    class Role(models.TextChoices):
        PLANNER = "planner"
        AGENT = "agent"
        REVIEWER = "reviewer"

    class Outcome(models.TextChoices):
        STARTED = "started"  # in flight
        OK = "ok"
        ERROR = "error"
        CANCELLED = "cancelled"
        TIMEOUT = "timeout"
        LOST = "lost"  # its worker died mid-call: spend counted at the start's estimate

    id = models.BigAutoField(primary_key=True)
    swarm = models.ForeignKey(
        "swarms.Swarm", on_delete=models.CASCADE, related_name="claude_calls", db_index=False
    )
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.CASCADE, related_name="claude_calls"
    )
    agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role = models.CharField(max_length=12, choices=Role.choices)
    revision = models.PositiveSmallIntegerField(
        default=0, help_text="task revision (or plan repair) it served"
    )
    attempt = models.PositiveSmallIntegerField(default=1, help_text="retry number within one logical call")
    turn = models.PositiveSmallIntegerField(
        default=0, help_text="turn of the tool-use loop within a task run"
    )
    model = models.CharField(max_length=100)
    request_id = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_type = models.CharField(
        max_length=40, blank=True, help_text="Anthropic error type, e.g. overloaded_error, or empty_answer"
    )
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    estimated = models.BooleanField(
        default=False, help_text="tokens estimated: a stream cut short, a call in flight or lost"
    )
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    response = models.JSONField(
        null=True, blank=True, help_text="the answer a re-run reuses (kept even when prompts are not stored)"
    )
    # the prompt trace (STORE_PROMPTS), each capped at TRACE_MAX_BYTES serialized
    request = models.JSONField(
        null=True, blank=True, help_text="system, messages, tools, model and max_tokens as sent"
    )
    trace_response = models.JSONField(
        null=True, blank=True, help_text="content blocks, stop reason and usage as received"
    )
    trace_truncated = models.BooleanField(
        default=False, help_text="long strings in the trace were cut to fit TRACE_MAX_BYTES"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # serves the "reuse a finished call" lookup of the execution bridge
            models.Index(fields=["swarm", "task", "role", "revision"], name="call_reuse_idx"),
            models.Index(fields=["swarm", "created_at"], name="call_swarm_idx"),
            # serves the budget's sum of calls in flight and the reconciliation of lost ones
            models.Index(
                fields=["swarm", "created_at"], condition=Q(outcome="started"), name="call_in_flight_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} call {self.id} ({self.outcome})"
