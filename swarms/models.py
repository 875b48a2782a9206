"""Swarms, their event stream and their log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.ids import swarm_id


class SwarmQuerySet(models.QuerySet["Swarm"]):
    def visible_to(self, user: models.Model) -> SwarmQuerySet:
        return self if getattr(user, "is_staff", False) else self.filter(owner=user)

    def active(self) -> SwarmQuerySet:
        return self.filter(status__in=Swarm.ACTIVE)

    def with_progress(self) -> SwarmQuerySet:
        """Task counts for the progress block, in the same query as the swarms."""

        def tasks(*statuses: str) -> models.Count:
            return models.Count("tasks", filter=Q(tasks__status__in=statuses) if statuses else None)

        return self.annotate(
            total_tasks=tasks(),
            completed_tasks=tasks("completed"),
            failed_tasks=tasks("failed"),
            running_tasks=tasks("assigned", "running"),
        )


class SwarmStatus(models.TextChoices):
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"  # planned; waits for a person to approve the plan
    READY = "ready"
    EXECUTING = "executing"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"


SWARM_STATUSES = SwarmStatus.values  # the API's status enum (SPECTACULAR_SETTINGS names it SwarmStatusEnum)


class SwarmMode(models.TextChoices):
    CENTRALIZED = "centralized"
    DISTRIBUTED = "distributed"
    HIERARCHICAL = "hierarchical"


class Swarm(models.Model):
    """An objective being worked on by a set of agents; the unit of ownership and of budgets."""

    Status = SwarmStatus
    Mode = SwarmMode

    ACTIVE = (Status.PLANNING, Status.AWAITING_APPROVAL, Status.READY, Status.EXECUTING, Status.PAUSED)
    REOPENABLE = (Status.COMPLETED, Status.FAILED)  # a new or retried task sends them back to work
    TERMINAL = (Status.COMPLETED, Status.FAILED, Status.STOPPED)

    id = models.CharField(primary_key=True, max_length=40, default=swarm_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="swarms")
    name = models.CharField(max_length=200)
    objective = models.TextField()
    strategy = models.CharField(max_length=32, default="auto")
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.CENTRALIZED)
    max_agents = models.PositiveSmallIntegerField(default=5)
    timeout_ms = models.PositiveIntegerField(default=300_000)
    parallel = models.BooleanField(default=True)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNING)
    start_requested = models.BooleanField(default=False, help_text="start was called while planning")
    failure_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # the timeout clock stops while the resource guard defers dispatch: time deferred so far, and
    # up to when it was counted (so processes deferring at once do not count a second twice)
    deferred_ms = models.PositiveBigIntegerField(default=0)
    deferred_until = models.DateTimeField(null=True, blank=True)
    # approval gates (options.approvePlan, tasks that require approval): since when one is open
    # (oldest open gate; the timeout clock stops meanwhile) and the time waited at closed ones
    approval_since = models.DateTimeField(null=True, blank=True)
    approval_waited_ms = models.PositiveBigIntegerField(default=0)
    plan_estimate = models.JSONField(default=dict, blank=True, help_text="estimated cost range of the plan")
    plan_revisions = models.PositiveSmallIntegerField(default=0, help_text="plans rejected with feedback")
    plan_feedback = models.TextField(blank=True, help_text="the feedback of the last rejected plan")
    rejected_plan = models.JSONField(
        default=list, blank=True, help_text="the tasks of the last rejected plan, shown to the planner"
    )
    cloned_from = models.CharField(max_length=40, blank=True, help_text="id of the swarm this is a copy of")
    # spend, kept on the row so budget checks are one read
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal("0"))
    # planning runs once: the planner holds this lease while it talks to Claude
    plan_lease_owner = models.CharField(max_length=100, blank=True)
    plan_lease_expires_at = models.DateTimeField(null=True, blank=True)

    objects = SwarmQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="swarm_owner_created_idx"),  # GET /api/swarms
            models.Index(fields=["status"], name="swarm_status_idx"),  # maxSwarms count, housekeeping
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_agents__gte=1) & Q(max_agents__lte=100),
                name="%(app_label)s_%(class)s_max_agents_range",
            ),
            models.CheckConstraint(
                condition=Q(timeout_ms__gte=30_000) & Q(timeout_ms__lte=3_600_000),
                name="%(app_label)s_%(class)s_timeout_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SwarmStatus.values), name="%(app_label)s_%(class)s_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(mode__in=SwarmMode.values), name="%(app_label)s_%(class)s_mode_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} [{self.status}]"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class StrategyQuerySet(models.QuerySet["Strategy"]):
    def visible_to(self, user: Any) -> StrategyQuerySet:
        """The global (built-in) strategies and the user's own."""
        return self.for_owner_id(getattr(user, "pk", None))

    def for_owner_id(self, owner_id: int | None) -> StrategyQuerySet:
        return self.filter(Q(owner__isnull=True) | Q(owner_id=owner_id))


class Strategy(models.Model):
    """How an objective becomes agents and tasks: guidance added to Claude's planning prompt, or
    a fixed template (a plan in the submit_plan shape, planned without a call). Global rows are
    the built-ins of swarms/strategies.py, kept in step after every migrate; users add their own.
    Swarms refer to their strategy by name."""

    name = models.CharField(max_length=32)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="strategies"
    )
    description = models.TextField(blank=True)
    guidance = models.TextField(blank=True)
    template = models.JSONField(null=True, blank=True)  # {"agents": [...], "tasks": [...]}
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StrategyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "strategies"
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(owner__isnull=True),
                name="%(app_label)s_%(class)s_global_name_unique",
            ),
            models.UniqueConstraint(
                fields=["owner", "name"], name="%(app_label)s_%(class)s_owner_name_unique"
            ),
            models.CheckConstraint(  # guidance for Claude, or a template: exactly one
                condition=(Q(template__isnull=True) & ~Q(guidance=""))
                | (Q(template__isnull=False) & Q(guidance="")),
                name="%(app_label)s_%(class)s_guidance_or_template",
            ),
        ]

    def __str__(self) -> str:
        return self.name if self.owner_id is None else f"{self.name} (of user {self.owner_id})"

    @property
    def is_builtin(self) -> bool:
        return self.owner_id is None

    @property
    def is_template(self) -> bool:
        return self.template is not None
