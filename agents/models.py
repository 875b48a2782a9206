"""Agents: typed workers of one swarm, and the agent types they are made from."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from agents.registry import CORE_TYPES, AgentSpec
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
    swarm = models.ForeignKey("swarms.Swarm", on_delete=models.CASCADE, related_name="agents", db_index=False)
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


class AgentTypeQuerySet(models.QuerySet["AgentType"]):
    def visible_to(self, user: Any) -> AgentTypeQuerySet:
        """The global (built-in) types and the user's own."""
        return self.filter(Q(owner__isnull=True) | Q(owner_id=getattr(user, "pk", None)))

    def for_owner_id(self, owner_id: int | None) -> AgentTypeQuerySet:
        return self.filter(Q(owner__isnull=True) | Q(owner_id=owner_id))


class AgentType(models.Model):
    """A kind of agent: its prompt, capabilities, model, tools and turn limit. Global rows (no
    owner) are the built-ins of agents/registry.py, kept in step after every migrate; users add
    their own, which only their swarms see. Agents refer to their type by name."""

    name = models.CharField(max_length=40)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="agent_types"
    )
    description = models.TextField(blank=True)
    system_prompt = models.TextField()
    capabilities = models.JSONField(default=list)  # ["codeGeneration", …]
    model = models.CharField(max_length=100, blank=True, help_text="empty: the deployment's agent model")
    tools = models.JSONField(default=list, blank=True)  # names of engine/tools.py tools; [] = text only
    max_turns = models.PositiveSmallIntegerField(null=True, blank=True, help_text="empty: TASK_MAX_TURNS")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AgentTypeQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(owner__isnull=True),
                name="%(app_label)s_%(class)s_global_name_unique",
            ),
            models.UniqueConstraint(
                fields=["owner", "name"], name="%(app_label)s_%(class)s_owner_name_unique"
            ),
            models.CheckConstraint(
                condition=Q(max_turns__isnull=True) | Q(max_turns__gte=1),
                name="%(app_label)s_%(class)s_max_turns_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name if self.owner_id is None else f"{self.name} (of user {self.owner_id})"

    @property
    def is_builtin(self) -> bool:
        return self.owner_id is None

    def spec(self) -> AgentSpec:
        return AgentSpec(
            name=self.name,
            capabilities=tuple(self.capabilities),
            system_prompt=self.system_prompt,
            custom=self.owner_id is not None or self.name not in CORE_TYPES,
            tools=tuple(self.tools),
            description=self.description,
            model=self.model,
            max_turns=self.max_turns,
            builtin=self.owner_id is None,
        )
