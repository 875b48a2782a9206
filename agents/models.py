"""Agents: typed workers of one swarm."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from core.ids import agent_id


class AgentQuerySet(models.QuerySet["Agent"]):
    def live(self) -> AgentQuerySet:
        return self.exclude(status=Agent.Status.TERMINATED)

    def idle(self) -> AgentQuerySet:
        return self.filter(status=Agent.Status.IDLE)


class AgentStatus(models.TextChoices):
    IDLE = "idle"
    BUSY = "busy"
    TERMINATED = "terminated"


class Agent(models.Model):
    """One typed agent; its capabilities decide which tasks it may take."""

    Status = AgentStatus

    id = models.CharField(primary_key=True, max_length=40, default=agent_id, editable=False)
    swarm = models.ForeignKey("swarms.Swarm", on_delete=models.CASCADE, related_name="agents")
    type = models.CharField(max_length=40)
    name = models.CharField(max_length=50)
    instance = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IDLE)
    capabilities = models.JSONField(default=dict, blank=True)
    tasks_completed = models.PositiveIntegerField(default=0)
    tasks_failed = models.PositiveIntegerField(default=0)
    total_execution_ms = models.PositiveBigIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)
    idle_since = models.DateTimeField(null=True, blank=True)  # distributed mode: longest idle claims first
    terminated_at = models.DateTimeField(null=True, blank=True)

    objects = AgentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "instance"]
        constraints = [
            models.UniqueConstraint(
                fields=["swarm", "type", "instance"], name="%(app_label)s_%(class)s_instance_unique"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AgentStatus.values), name="%(app_label)s_%(class)s_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["swarm", "status"], name="agent_swarm_status_idx")
        ]  # idle agents of a swarm

    def __str__(self) -> str:
        return f"{self.name} ({self.type} #{self.instance})"

    def has_capabilities(self, required: list[str]) -> bool:
        return all(self.capabilities.get(name) for name in required)

    @property
    def success_rate(self) -> float | None:
        finished = self.tasks_completed + self.tasks_failed
        return round(self.tasks_completed / finished, 4) if finished else None

    @property
    def average_execution_ms(self) -> int | None:
        return self.total_execution_ms // self.tasks_completed if self.tasks_completed else None
