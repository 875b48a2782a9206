"""Typed views of the API's JSON (dataclasses). Field names are snake_case; ``raw`` keeps the JSON
object as the server sent it, so a field this version does not know is still at hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

TERMINAL_STATUSES = frozenset({"completed", "failed", "stopped"})
TERMINAL_EVENTS = frozenset({"swarm.completed", "swarm.failed", "swarm.stopped"})


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Spend:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> Spend:
        data = data or {}
        return cls(
            input_tokens=int(data.get("inputTokens") or 0),
            output_tokens=int(data.get("outputTokens") or 0),
            total_tokens=int(data.get("totalTokens") or 0),
            cost_usd=float(data.get("costUsd") or 0),
        )


@dataclass(frozen=True)
class Progress:
    total_tasks: int = 0
    completed_tasks: int = 0
    failed_tasks: int = 0
    running_tasks: int = 0
    percent_complete: int = 0

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> Progress:
        data = data or {}
        return cls(
            total_tasks=int(data.get("totalTasks") or 0),
            completed_tasks=int(data.get("completedTasks") or 0),
            failed_tasks=int(data.get("failedTasks") or 0),
            running_tasks=int(data.get("runningTasks") or 0),
            percent_complete=int(data.get("percentComplete") or 0),
        )


@dataclass(frozen=True)
class Swarm:
    id: str
    status: str
    objective: str = ""
    name: str = ""
    strategy: str = ""
    mode: str = ""
    max_agents: int | None = None
    timeout: int | None = None
    parallel: bool | None = None
    options: dict[str, Any] = field(default_factory=dict)
    progress: Progress = field(default_factory=Progress)
    spend: Spend = field(default_factory=Spend)
    failure_reason: str | None = None
    start_requested: bool = False
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def budget(self) -> dict[str, Any]:
        """``options.budget``: ``{"maxTokens"?, "maxCostUsd"?}`` (empty when none was set)."""
        budget = self.options.get("budget") if isinstance(self.options, dict) else None
        return dict(budget) if isinstance(budget, dict) else {}

    @classmethod
    def from_api(cls, data: dict[str, Any], *, swarm_id: str = "", status: str = "") -> Swarm:
        return cls(
            id=data.get("id") or swarm_id,
            status=data.get("status") or status,
            objective=data.get("objective") or "",
            name=data.get("name") or "",
            strategy=data.get("strategy") or "",
            mode=data.get("mode") or "",
            max_agents=data.get("maxAgents"),
            timeout=data.get("timeout"),
            parallel=data.get("parallel"),
            options=dict(data.get("options") or {}),
            progress=Progress.from_api(data.get("progress")),
            spend=Spend.from_api(data.get("spend")),
            failure_reason=data.get("failureReason"),
            start_requested=bool(data.get("startRequested")),
            created_at=_time(data.get("createdAt")),
            started_at=_time(data.get("startedAt")),
            completed_at=_time(data.get("completedAt")),
            updated_at=_time(data.get("updatedAt")),
            raw=data,
        )


@dataclass(frozen=True)
class ActionResult:
    """The answer to a lifecycle command (start, pause, resume, stop, delete)."""

    swarm_id: str
    status: str
    message: str = ""
    timestamp: datetime | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ActionResult:
        return cls(
            swarm_id=data.get("swarmId", ""),
            status=data.get("status", ""),
            message=data.get("message", ""),
            timestamp=_time(data.get("timestamp")),
        )


@dataclass(frozen=True)
class AgentMetrics:
    tasks_completed: int = 0
    tasks_failed: int = 0
    success_rate: float | None = None
    average_execution_time: int | None = None
    total_execution_time: int = 0

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> AgentMetrics:
        data = data or {}
        return cls(
            tasks_completed=int(data.get("tasksCompleted") or 0),
            tasks_failed=int(data.get("tasksFailed") or 0),
            success_rate=_float(data.get("successRate")),
            average_execution_time=data.get("averageExecutionTime"),
            total_execution_time=int(data.get("totalExecutionTime") or 0),
        )


@dataclass(frozen=True)
class Agent:
    id: str
    swarm_id: str
    name: str
    type: str
    status: str
    instance: int | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)
    metrics: AgentMetrics = field(default_factory=AgentMetrics)
    spend: Spend = field(default_factory=Spend)
    created_at: datetime | None = None
    terminated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Agent:
        ident = data.get("id")
        ident = ident if isinstance(ident, dict) else {"id": ident}
        return cls(
            id=ident.get("id") or "",
            swarm_id=ident.get("swarmId") or "",
            instance=ident.get("instance"),
            name=data.get("name") or "",
            type=data.get("type") or "",
            status=data.get("status") or "",
            capabilities=dict(data.get("capabilities") or {}),
            metrics=AgentMetrics.from_api(data.get("metrics")),
            spend=Spend.from_api(data.get("spend")),
            created_at=_time(data.get("createdAt")),
            terminated_at=_time(data.get("terminatedAt")),
            raw=data,
        )


@dataclass(frozen=True)
class Artifact:
    path: str
    language: str
    content: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Artifact:
        return cls(
            path=data.get("path", ""), language=data.get("language", ""), content=data.get("content", "")
        )


@dataclass(frozen=True)
class TaskResult:
    output: str
    artifacts: list[Artifact] = field(default_factory=list)
    quality: float | None = None
    execution_time: int | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> TaskResult:
        return cls(
            output=data.get("output") or "",
            artifacts=[Artifact.from_api(a) for a in data.get("artifacts") or []],
            quality=_float(data.get("quality")),
            execution_time=data.get("executionTime"),
        )


@dataclass(frozen=True)
class Task:
    id: str
    swarm_id: str
    name: str
    status: str
    description: str = ""
    type: str = ""
    priority: str = "normal"
    sequence: int | None = None
    agent_type: str = ""
    assigned_to: dict[str, Any] | None = None
    pinned: bool = False
    dependencies: list[str] = field(default_factory=list)
    requirements: dict[str, Any] = field(default_factory=dict)
    result: TaskResult | None = None
    attempts: int = 0
    error: str | None = None
    failure_reason: str | None = None
    revisions: int = 0
    spend: Spend = field(default_factory=Spend)
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Task:
        ident = data.get("id")
        ident = ident if isinstance(ident, dict) else {"id": ident}
        result = data.get("result")
        return cls(
            id=ident.get("id") or "",
            swarm_id=ident.get("swarmId") or "",
            sequence=ident.get("sequence"),
            name=data.get("name") or "",
            status=data.get("status") or "",
            description=data.get("description") or "",
            type=data.get("type") or "",
            priority=data.get("priority") or "normal",
            agent_type=data.get("agentType") or "",
            assigned_to=data.get("assignedTo"),
            pinned=bool(data.get("pinned")),
            dependencies=list(data.get("dependencies") or []),
            requirements=dict(data.get("requirements") or {}),
            result=TaskResult.from_api(result) if isinstance(result, dict) else None,
            attempts=int(data.get("attempts") or 0),
            error=data.get("error"),
            failure_reason=data.get("failureReason"),
            revisions=int(data.get("revisions") or 0),
            spend=Spend.from_api(data.get("spend")),
            created_at=_time(data.get("createdAt")),
            started_at=_time(data.get("startedAt")),
            completed_at=_time(data.get("completedAt")),
            raw=data,
        )


@dataclass(frozen=True)
class WorkspaceEntry:
    path: str
    size: int
    sha256: str
    version: int
    versions: int
    updated_at: datetime | None = None
    task_id: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> WorkspaceEntry:
        return cls(
            path=data.get("path", ""),
            size=int(data.get("size") or 0),
            sha256=data.get("sha256", ""),
            version=int(data.get("version") or 0),
            versions=int(data.get("versions") or data.get("version") or 0),
            updated_at=_time(data.get("updatedAt")),
            task_id=data.get("taskId"),
        )


@dataclass(frozen=True)
class WorkspaceFile:
    path: str
    version: int
    versions: int
    size: int
    sha256: str
    content: str
    task_id: str | None = None
    call_id: int | None = None
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> WorkspaceFile:
        return cls(
            path=data.get("path", ""),
            version=int(data.get("version") or 0),
            versions=int(data.get("versions") or 0),
            size=int(data.get("size") or 0),
            sha256=data.get("sha256", ""),
            content=data.get("content", ""),
            task_id=data.get("taskId"),
            call_id=data.get("callId"),
            created_at=_time(data.get("createdAt")),
        )


@dataclass(frozen=True)
class ResultsSpend(Spend):
    by_task: dict[str, Spend] = field(default_factory=dict)
    by_agent: dict[str, Spend] = field(default_factory=dict)


@dataclass(frozen=True)
class Results:
    swarm_id: str
    status: str
    outputs: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, list[Artifact]] = field(default_factory=dict)
    workspace: list[WorkspaceEntry] = field(default_factory=list)
    overall_quality: float | None = None
    total_execution_time: int = 0
    task_execution_time: int = 0
    efficiency: float | None = None
    tasks: dict[str, int] = field(default_factory=dict)
    spend: ResultsSpend = field(default_factory=ResultsSpend)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Results:
        data = body.get("results") or {}
        spend = data.get("spend") or {}
        base = Spend.from_api(spend)
        return cls(
            swarm_id=body.get("swarmId", ""),
            status=body.get("status", ""),
            outputs=dict(data.get("outputs") or {}),
            artifacts={
                task: [Artifact.from_api(a) for a in items]
                for task, items in (data.get("artifacts") or {}).items()
            },
            workspace=[WorkspaceEntry.from_api(e) for e in data.get("workspace") or []],
            overall_quality=_float(data.get("overallQuality")),
            total_execution_time=int(data.get("totalExecutionTime") or 0),
            task_execution_time=int(data.get("taskExecutionTime") or 0),
            efficiency=_float(data.get("efficiency")),
            tasks=dict(data.get("tasks") or {}),
            spend=ResultsSpend(
                input_tokens=base.input_tokens,
                output_tokens=base.output_tokens,
                total_tokens=base.total_tokens,
                cost_usd=base.cost_usd,
                by_task={k: Spend.from_api(v) for k, v in (spend.get("byTask") or {}).items()},
                by_agent={k: Spend.from_api(v) for k, v in (spend.get("byAgent") or {}).items()},
            ),
            raw=body,
        )


@dataclass(frozen=True)
class Metrics:
    swarm_id: str
    throughput: float = 0.0
    latency: int | None = None
    efficiency: float | None = None
    reliability: float | None = None
    average_quality: float | None = None
    agent_utilization: float = 0.0
    resource_utilization: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    claude_calls: dict[str, int] = field(default_factory=dict)
    makespan: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Metrics:
        data = body.get("metrics") or {}
        return cls(
            swarm_id=body.get("swarmId", ""),
            throughput=float(data.get("throughput") or 0),
            latency=data.get("latency"),
            efficiency=_float(data.get("efficiency")),
            reliability=_float(data.get("reliability")),
            average_quality=_float(data.get("averageQuality")),
            agent_utilization=float(data.get("agentUtilization") or 0),
            resource_utilization=dict(data.get("resourceUtilization") or {}),
            tasks=dict(data.get("tasks") or {}),
            tokens=dict(data.get("tokens") or {}),
            cost_usd=float(data.get("costUsd") or 0),
            claude_calls=dict(data.get("claudeCalls") or {}),
            makespan=int(data.get("makespan") or 0),
            raw=body,
        )


@dataclass(frozen=True)
class LogEntry:
    id: int
    timestamp: datetime | None
    level: str
    source: str
    message: str
    swarm_id: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> LogEntry:
        return cls(
            id=int(data.get("id") or 0),
            timestamp=_time(data.get("timestamp")),
            level=data.get("level", ""),
            source=data.get("source", ""),
            message=data.get("message", ""),
            swarm_id=data.get("swarmId", ""),
            data=dict(data.get("data") or {}),
            raw=data,
        )


@dataclass(frozen=True)
class Event:
    """One event of a swarm's stream (the WebSocket envelope ``swarm_event``; also a webhook's body)."""

    event_id: int
    seq: int
    swarm_id: str
    event_type: str
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def terminal(self) -> bool:
        """The swarm ended with this event (completed, failed or stopped)."""
        return self.event_type in TERMINAL_EVENTS

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Event:
        return cls(
            event_id=int(data.get("eventId") or 0),
            seq=int(data.get("seq") or 0),
            swarm_id=data.get("swarmId", ""),
            event_type=data.get("eventType", ""),
            data=dict(data.get("data") or {}),
            timestamp=_time(data.get("timestamp")),
            raw=data,
        )


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    permissions: list[str]
    active: bool = True
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    usage_count: int = 0
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ApiKey:
        return cls(
            id=data.get("id", ""),
            name=data.get("name", ""),
            prefix=data.get("prefix", ""),
            permissions=list(data.get("permissions") or []),
            active=bool(data.get("active")),
            created_at=_time(data.get("createdAt")),
            last_used_at=_time(data.get("lastUsedAt")),
            usage_count=int(data.get("usageCount") or 0),
            expires_at=_time(data.get("expiresAt")),
            revoked_at=_time(data.get("revokedAt")),
            raw=data,
        )


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key: ``key`` is the secret itself, shown this once."""

    key: str
    api_key: ApiKey


@dataclass(frozen=True)
class Tokens:
    access: str
    refresh: str


@dataclass(frozen=True)
class ClaudeCall:
    id: int
    role: str
    model: str
    outcome: str
    task_id: str | None = None
    agent_id: str | None = None
    attempt: int = 1
    turn: int = 1
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ClaudeCall:
        return cls(
            id=int(data.get("id") or 0),
            role=data.get("role", ""),
            model=data.get("model", ""),
            outcome=data.get("outcome", ""),
            task_id=data.get("taskId"),
            agent_id=data.get("agentId"),
            attempt=int(data.get("attempt") or 1),
            turn=int(data.get("turn") or 1),
            input_tokens=int(data.get("inputTokens") or 0),
            output_tokens=int(data.get("outputTokens") or 0),
            cost_usd=float(data.get("costUsd") or 0),
            latency_ms=int(data.get("latencyMs") or 0),
            created_at=_time(data.get("createdAt")),
            raw=data,
        )


@dataclass(frozen=True)
class Webhook:
    id: str
    url: str
    events: list[str] = field(default_factory=list)
    active: bool = True
    secret: str | None = None  # only in the answer to create
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Webhook:
        data = body.get("data") if isinstance(body.get("data"), dict) else body
        return cls(
            id=str(data.get("id", "")),
            url=data.get("url", ""),
            events=list(data.get("events") or data.get("eventTypes") or []),
            active=bool(data.get("active", True)),
            secret=body.get("secret") or data.get("secret"),
            created_at=_time(data.get("createdAt")),
            raw=body,
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a paged list; ``count`` is the total over all pages."""

    items: list[T]
    count: int
    limit: int
    offset: int
    next: str | None = None
    previous: str | None = None
