"""Every REST operation of the server as an `Op` (method, path, body, parser). The sync and async
resources only send these, so the two clients cannot drift apart."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from claudeflow._http import Op, seg
from claudeflow.models import (
    ActionResult,
    Agent,
    ApiKey,
    ClaudeCall,
    CreatedApiKey,
    LogEntry,
    Metrics,
    Page,
    Results,
    Swarm,
    Task,
    Tokens,
    Webhook,
    WorkspaceEntry,
    WorkspaceFile,
)


def _swarm(swarm_id: str) -> str:
    return f"/api/swarm/{seg(swarm_id)}"


def _page(key: str, parse: Any) -> Any:
    def parser(body: dict[str, Any]) -> Page[Any]:
        return Page(
            items=[parse(item) for item in body.get(key) or []],
            count=int(body.get("count") or 0),
            limit=int(body.get("limit") or 0),
            offset=int(body.get("offset") or 0),
            next=body.get("next"),
            previous=body.get("previous"),
        )

    return parser


# --- swarms ---------------------------------------------------------------------------------------


def swarm_create(
    objective: str,
    *,
    strategy: str | None = None,
    mode: str | None = None,
    max_agents: int | None = None,
    timeout: int | None = None,
    parallel: bool | None = None,
    name: str | None = None,
    options: dict[str, Any] | None = None,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
) -> Op:
    body: dict[str, Any] = {"objective": objective}
    for key, value in (
        ("strategy", strategy),
        ("mode", mode),
        ("maxAgents", max_agents),
        ("timeout", timeout),
        ("parallel", parallel),
        ("name", name),
    ):
        if value is not None:
            body[key] = value
    opts = dict(options or {})
    if budget_usd is not None or budget_tokens is not None:
        budget = dict(opts.get("budget") or {})
        if budget_usd is not None:
            budget["maxCostUsd"] = budget_usd
        if budget_tokens is not None:
            budget["maxTokens"] = budget_tokens
        opts["budget"] = budget
    if opts:
        body["options"] = opts

    def parse(answer: dict[str, Any]) -> Swarm:
        return Swarm.from_api(answer.get("data") or {}, swarm_id=answer["swarmId"], status=answer["status"])

    return Op("POST", "/api/swarm/create", parse, json=body)


def swarm_page(*, status: str | None = None, limit: int = 20, offset: int = 0) -> Op:
    return Op(
        "GET",
        "/api/swarms",
        _page("swarms", Swarm.from_api),
        params={"status": status, "limit": limit, "offset": offset},
    )


def swarm_get(swarm_id: str) -> Op:
    return Op("GET", _swarm(swarm_id), lambda body: Swarm.from_api(body["data"]))


def swarm_action(swarm_id: str, action: str) -> Op:
    return Op("POST", f"{_swarm(swarm_id)}/{action}", ActionResult.from_api)


def swarm_delete(swarm_id: str) -> Op:
    return Op("DELETE", _swarm(swarm_id), ActionResult.from_api)


def swarm_results(swarm_id: str) -> Op:
    return Op("GET", f"{_swarm(swarm_id)}/results", Results.from_api)


def swarm_metrics(swarm_id: str) -> Op:
    return Op("GET", f"{_swarm(swarm_id)}/metrics", Metrics.from_api)


def swarm_logs(swarm_id: str, *, limit: int | None = None, level: str | None = None) -> Op:
    return Op(
        "GET",
        f"{_swarm(swarm_id)}/logs",
        lambda body: [LogEntry.from_api(entry) for entry in body.get("logs") or []],
        params={"limit": limit, "level": level},
    )


# --- agents and tasks -----------------------------------------------------------------------------


def agent_list(swarm_id: str, *, status: str | None = None) -> Op:
    return Op(
        "GET",
        f"{_swarm(swarm_id)}/agents",
        lambda body: [Agent.from_api(a) for a in body.get("agents") or []],
        params={"status": status},
    )


def agent_spawn(
    swarm_id: str, type: str, *, name: str | None = None, capabilities: dict[str, Any] | None = None
) -> Op:
    body: dict[str, Any] = {"type": type}
    if name is not None:
        body["name"] = name
    if capabilities is not None:
        body["capabilities"] = capabilities
    return Op("POST", f"{_swarm(swarm_id)}/agents", lambda b: Agent.from_api(b["data"]), json=body)


def agent_get(swarm_id: str, agent_id: str) -> Op:
    return Op("GET", f"{_swarm(swarm_id)}/agents/{seg(agent_id)}", lambda b: Agent.from_api(b["data"]))


def agent_terminate(swarm_id: str, agent_id: str) -> Op:
    return Op("DELETE", f"{_swarm(swarm_id)}/agents/{seg(agent_id)}", lambda b: Agent.from_api(b["data"]))


def task_list(swarm_id: str, *, status: str | None = None) -> Op:
    return Op(
        "GET",
        f"{_swarm(swarm_id)}/tasks",
        lambda body: [Task.from_api(t) for t in body.get("tasks") or []],
        params={"status": status},
    )


def task_create(
    swarm_id: str,
    *,
    name: str,
    description: str,
    type: str,
    priority: str | None = None,
    requirements: dict[str, Any] | None = None,
    dependencies: list[str] | None = None,
) -> Op:
    body: dict[str, Any] = {"name": name, "description": description, "type": type}
    for key, value in (
        ("priority", priority),
        ("requirements", requirements),
        ("dependencies", dependencies),
    ):
        if value is not None:
            body[key] = value
    return Op("POST", f"{_swarm(swarm_id)}/tasks", lambda b: Task.from_api(b["data"]), json=body)


def task_assign(swarm_id: str, task_id: str, agent_id: str) -> Op:
    return Op(
        "POST",
        f"{_swarm(swarm_id)}/tasks/{seg(task_id)}/assign",
        lambda b: b,
        json={"agentId": agent_id},
    )


# --- workspace and calls --------------------------------------------------------------------------


def workspace_list(swarm_id: str) -> Op:
    return Op(
        "GET",
        f"{_swarm(swarm_id)}/workspace",
        lambda body: [WorkspaceEntry.from_api(f) for f in body.get("files") or []],
    )


def _file_path(swarm_id: str, path: str) -> str:
    return f"{_swarm(swarm_id)}/workspace/{quote(path.lstrip('/'), safe='/')}"


def workspace_read(swarm_id: str, path: str, *, version: int | None = None) -> Op:
    return Op("GET", _file_path(swarm_id, path), WorkspaceFile.from_api, params={"version": version})


def workspace_history(swarm_id: str, path: str) -> Op:
    return Op(
        "GET",
        _file_path(swarm_id, path),
        lambda body: [
            WorkspaceEntry.from_api({**v, "path": body.get("path")}) for v in body.get("versions") or []
        ],
        params={"history": 1},
    )


def workspace_zip(swarm_id: str) -> Op:
    return Op("GET", f"{_swarm(swarm_id)}/workspace.zip", lambda content: content, raw=True)


def call_page(swarm_id: str, *, task_id: str | None = None, limit: int = 100, offset: int = 0) -> Op:
    return Op(
        "GET",
        f"{_swarm(swarm_id)}/calls",
        _page("calls", ClaudeCall.from_api),
        params={"taskId": task_id, "limit": limit, "offset": offset},
    )


def call_get(swarm_id: str, call_id: int) -> Op:
    return Op("GET", f"{_swarm(swarm_id)}/calls/{seg(str(call_id))}", lambda b: b["call"])


# --- keys, auth, webhooks, system -----------------------------------------------------------------


def key_list() -> Op:
    return Op("GET", "/api/keys", lambda body: [ApiKey.from_api(k) for k in body.get("keys") or []])


def key_create(name: str, *, permissions: list[str] | None = None, expires_in_days: int | None = None) -> Op:
    body: dict[str, Any] = {"name": name}
    if permissions is not None:
        body["permissions"] = list(permissions)
    if expires_in_days is not None:
        body["expiresInDays"] = expires_in_days
    return Op(
        "POST",
        "/api/keys",
        lambda b: CreatedApiKey(key=b["key"], api_key=ApiKey.from_api(b["data"])),
        json=body,
    )


def key_revoke(key_id: str) -> Op:
    return Op("DELETE", f"/api/keys/{seg(key_id)}", lambda b: ApiKey.from_api(b["data"]))


def auth_token(username: str, password: str) -> Op:
    return Op(
        "POST",
        "/api/auth/token",
        lambda b: Tokens(access=b["access"], refresh=b["refresh"]),
        json={"username": username, "password": password},
    )


def auth_refresh(refresh: str) -> Op:
    return Op(
        "POST",
        "/api/auth/token/refresh",
        lambda b: Tokens(access=b["access"], refresh=b["refresh"]),
        json={"refresh": refresh},
    )


def auth_logout(refresh: str) -> Op:
    return Op("POST", "/api/auth/logout", lambda b: b, json={"refresh": refresh})


def webhook_create(url: str, *, events: list[str] | None = None, active: bool | None = None) -> Op:
    body: dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = list(events)
    if active is not None:
        body["active"] = active
    return Op("POST", "/api/webhooks", Webhook.from_api, json=body)


def webhook_list() -> Op:
    def parse(body: Any) -> list[Webhook]:
        items = body if isinstance(body, list) else body.get("webhooks") or body.get("results") or []
        return [Webhook.from_api(item) for item in items]

    return Op("GET", "/api/webhooks", parse)


def webhook_delete(webhook_id: str) -> Op:
    return Op("DELETE", f"/api/webhooks/{seg(webhook_id)}", lambda b: b)


def health() -> Op:
    return Op("GET", "/api/health")


def ready() -> Op:
    return Op("GET", "/api/ready")


def system_stats() -> Op:
    return Op("GET", "/api/system/stats")
