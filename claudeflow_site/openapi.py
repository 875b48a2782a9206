"""Finishing touches to the generated OpenAPI schema (a drf-spectacular postprocessing hook), kept in
one place rather than on every view: each operation gets a summary, a clean operationId and a tag by
resource; every operation documents 503 (a backing service is down) and every one with a body 415;
every operation with a body carries a working example (tests/test_openapi_docs.py sends
every example to the live endpoint)."""

from __future__ import annotations

import re
from typing import Any

# (method, path) → (operationId, summary). Operations not listed (added later) get a summary and an
# operationId derived from their method and path, so the schema stays complete.
OPERATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("post", "/api/swarm/create"): ("createSwarm", "Create a swarm: Claude plans the objective"),
    ("get", "/api/swarms"): ("listSwarms", "List your swarms, newest first"),
    ("get", "/api/swarm/{swarm_id}"): ("getSwarm", "Get a swarm with its progress and spend"),
    ("delete", "/api/swarm/{swarm_id}"): ("deleteSwarm", "Delete a swarm (a running one is stopped first)"),
    ("post", "/api/swarm/{swarm_id}/start"): ("startSwarm", "Start executing a swarm"),
    ("post", "/api/swarm/{swarm_id}/pause"): ("pauseSwarm", "Pause a running swarm"),
    ("post", "/api/swarm/{swarm_id}/resume"): ("resumeSwarm", "Resume a paused swarm"),
    ("post", "/api/swarm/{swarm_id}/stop"): ("stopSwarm", "Stop a swarm (in-flight Claude calls are cut)"),
    ("get", "/api/swarm/{swarm_id}/agents"): ("listAgents", "List a swarm's agents"),
    ("post", "/api/swarm/{swarm_id}/agents"): ("spawnAgent", "Spawn an agent in a swarm"),
    ("get", "/api/swarm/{swarm_id}/agents/{agent_id}"): ("getAgent", "Get one agent"),
    ("delete", "/api/swarm/{swarm_id}/agents/{agent_id}"): (
        "terminateAgent",
        "Terminate an agent (its running task goes back to pending)",
    ),
    ("get", "/api/swarm/{swarm_id}/tasks"): ("listTasks", "List a swarm's tasks"),
    ("post", "/api/swarm/{swarm_id}/tasks"): ("createTask", "Add a task to a swarm"),
    ("post", "/api/swarm/{swarm_id}/tasks/{task_id}/assign"): (
        "assignTask",
        "Pin a pending task to an agent",
    ),
    ("get", "/api/swarm/{swarm_id}/results"): (
        "getResults",
        "Get a swarm's outputs, artifacts, quality and spend",
    ),
    ("get", "/api/swarm/{swarm_id}/metrics"): (
        "getMetrics",
        "Get a swarm's throughput, latency and reliability",
    ),
    ("get", "/api/swarm/{swarm_id}/logs"): ("getLogs", "Get a swarm's log lines"),
    ("get", "/api/swarm/{swarm_id}/calls"): ("listCalls", "List a swarm's Claude calls, oldest first"),
    ("get", "/api/swarm/{swarm_id}/calls/{call_id}"): (
        "getCall",
        "Get one Claude call with its prompt trace",
    ),
    ("get", "/api/swarm/{swarm_id}/workspace"): ("listWorkspaceFiles", "List a swarm's workspace files"),
    ("get", "/api/swarm/{swarm_id}/workspace/{path}"): ("getWorkspaceFile", "Get one workspace file"),
    ("get", "/api/swarm/{swarm_id}/workspace.zip"): ("downloadWorkspace", "Download the workspace as a zip"),
    ("get", "/api/keys"): ("listApiKeys", "List your API keys (never the keys themselves)"),
    ("post", "/api/keys"): ("createApiKey", "Create an API key (shown in this response only)"),
    ("delete", "/api/keys/{key_id}"): ("revokeApiKey", "Revoke an API key"),
    ("post", "/api/auth/token"): ("obtainToken", "Obtain a JWT pair with a username and password"),
    ("post", "/api/auth/token/refresh"): ("refreshToken", "Rotate a refresh token for a new JWT pair"),
    ("post", "/api/auth/logout"): ("logout", "Blacklist a refresh token"),
    ("get", "/api/swarm/{swarm_id}/events"): ("listEvents", "Read a swarm's event stream after an event id"),
    ("get", "/api/agent-types"): ("listAgentTypes", "List the agent types you can use (built-in and yours)"),
    ("post", "/api/agent-types"): ("createAgentType", "Create an agent type of your own"),
    ("get", "/api/agent-types/{name}"): ("getAgentType", "Get one agent type"),
    ("patch", "/api/agent-types/{name}"): ("updateAgentType", "Change one of your agent types"),
    ("delete", "/api/agent-types/{name}"): ("deleteAgentType", "Delete one of your agent types"),
    ("get", "/api/strategies"): ("listStrategies", "List the strategies you can use (built-in and yours)"),
    ("post", "/api/strategies"): ("createStrategy", "Create a strategy of your own"),
    ("get", "/api/strategies/{name}"): ("getStrategy", "Get one strategy"),
    ("patch", "/api/strategies/{name}"): ("updateStrategy", "Change one of your strategies"),
    ("delete", "/api/strategies/{name}"): ("deleteStrategy", "Delete one of your strategies"),
    ("post", "/api/swarm/{swarm_id}/approve"): ("approvePlan", "Approve a swarm's plan (the plan gate)"),
    ("post", "/api/swarm/{swarm_id}/reject"): (
        "rejectPlan",
        "Reject a swarm's plan: replan with feedback, or stop",
    ),
    ("post", "/api/swarm/{swarm_id}/clone"): (
        "cloneSwarm",
        "Clone a swarm (same objective, options and plan)",
    ),
    ("post", "/api/swarm/{swarm_id}/tasks/{task_id}/approve"): ("approveTask", "Approve a task's output"),
    ("post", "/api/swarm/{swarm_id}/tasks/{task_id}/reject"): (
        "rejectTask",
        "Reject a task's output with feedback",
    ),
    ("post", "/api/swarm/{swarm_id}/tasks/{task_id}/retry"): ("retryTask", "Retry a failed task"),
    ("get", "/api/webhooks"): ("listWebhooks", "List your webhooks"),
    ("post", "/api/webhooks"): ("createWebhook", "Create a webhook (its secret is in this response only)"),
    ("get", "/api/webhooks/{webhook_id}"): ("getWebhook", "Get one webhook"),
    ("patch", "/api/webhooks/{webhook_id}"): ("updateWebhook", "Change a webhook"),
    ("delete", "/api/webhooks/{webhook_id}"): ("deleteWebhook", "Delete a webhook"),
    ("get", "/api/webhooks/{webhook_id}/deliveries"): ("listWebhookDeliveries", "A webhook's delivery log"),
    ("post", "/api/webhooks/{webhook_id}/rotate-secret"): (
        "rotateWebhookSecret",
        "Rotate a webhook's secret",
    ),
    ("get", "/api/health"): ("health", "Liveness"),
    ("get", "/api/ready"): ("ready", "Readiness: database, Redis and broker"),
    ("get", "/api/system/stats"): ("systemStats", "Process and deployment statistics"),
}

# the first path segment after /api/swarm/{swarm_id}/ (or /api/) → tag
TAGS = {
    "agents": "Agents",
    "tasks": "Tasks",
    "calls": "Calls",
    "workspace": "Workspace",
    "workspace.zip": "Workspace",
    "results": "Results",
    "metrics": "Results",
    "logs": "Results",
    "keys": "API keys",
    "auth": "Authentication",
    "health": "System",
    "ready": "System",
    "system": "System",
    "swarms": "Swarms",
    "swarm": "Swarms",
    "events": "Events",
    "agent-types": "Agent types",
    "strategies": "Strategies",
    "webhooks": "Webhooks",
}

EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/swarm/create"): {
        "objective": "Build a REST API for user management",
        "strategy": "development",
        "mode": "centralized",
        "maxAgents": 3,
        "options": {"review": True, "includeTests": True, "budget": {"maxCostUsd": 2.5}},
    },
    ("post", "/api/swarm/{swarm_id}/tasks"): {
        "name": "Write the API documentation",
        "description": "Document every endpoint of the user API with an example request and response",
        "type": "custom",
        "priority": "normal",
    },
    ("post", "/api/swarm/{swarm_id}/agents"): {"type": "coder", "name": "api-developer"},
    ("post", "/api/keys"): {"name": "ci", "permissions": ["read"], "expiresInDays": 90},
    ("post", "/api/agent-types"): {
        "name": "sql-expert",
        "description": "Designs schemas and writes fast, correct SQL",
        "systemPrompt": "You are a database engineer. Design normalised schemas and write clear, indexed SQL.",
        "capabilities": ["codeGeneration", "analysis"],
    },
    ("post", "/api/strategies"): {
        "name": "api-first",
        "description": "Design the API contract before any code",
        "guidance": "Start with an OpenAPI contract task; every implementation task depends on it.",
    },
    ("patch", "/api/agent-types/{name}"): {
        "description": "Designs schemas, reviews migrations and writes fast, correct SQL",
        "capabilities": ["codeGeneration", "analysis", "review"],
    },
    ("patch", "/api/strategies/{name}"): {
        "guidance": "Start with an OpenAPI contract task and a test plan; implementation tasks depend on both.",
    },
    ("post", "/api/swarm/{swarm_id}/reject"): {
        "feedback": "Split the API work into one task per resource and add a task for the tests",
    },
    ("post", "/api/swarm/{swarm_id}/tasks/{task_id}/assign"): {"agentId": "{agent_id}"},
    ("post", "/api/swarm/{swarm_id}/tasks/{task_id}/reject"): {
        "feedback": "Handle an empty request body and add a test for it",
    },
    ("post", "/api/auth/token"): {"username": "alice", "password": "correct-horse-battery-staple"},
    ("post", "/api/auth/token/refresh"): {"refresh": "{refresh_token}"},
    ("post", "/api/auth/logout"): {"refresh": "{refresh_token}"},
    ("post", "/api/webhooks"): {
        "url": "https://hooks.example.com/claudeflow",
        "events": ["swarm.completed", "swarm.failed", "task.failed"],
        "description": "Notify CI when a swarm finishes",
    },
    ("patch", "/api/webhooks/{webhook_id}"): {"events": ["swarm.*"], "description": "Every swarm event"},
}

# `{name}` in an example's value stands for a value of your own (an agent's id, a refresh token)
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")

ERROR_REF = {"$ref": "#/components/schemas/ErrorSchema"}
EXTRA_RESPONSES = {
    "503": "A backing service (the database, Redis) is unavailable; retry after `Retry-After` seconds",
}
BODY_RESPONSES = {"415": "The body is not JSON (send `Content-Type: application/json`)"}


def polish(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method.startswith("x-"):
                continue
            operation_id, summary = OPERATIONS.get((method, path)) or derived(method, path)
            operation["operationId"] = operation_id
            operation.setdefault("summary", summary)
            operation["tags"] = [tag_of(path, operation.get("tags"))]
            responses = operation.setdefault("responses", {})
            extra = dict(EXTRA_RESPONSES)
            if "requestBody" in operation:
                extra.update(BODY_RESPONSES)
            for status, description in extra.items():
                responses.setdefault(
                    status,
                    {"description": description, "content": {"application/json": {"schema": ERROR_REF}}},
                )
            example = EXAMPLES.get((method, path))
            if example is not None and "requestBody" in operation:
                content = operation["requestBody"].get("content", {}).get("application/json")
                if content is not None:
                    entry: dict[str, Any] = {"summary": "A typical request", "value": example}
                    if PLACEHOLDER.search(repr(example)):
                        entry["description"] = "Replace each `{…}` with your own value"
                    content["examples"] = {"typical": entry}
    return result


def tag_of(path: str, current: list[str] | None) -> str:
    parts = [p for p in path.split("/") if p and p != "api"]
    if len(parts) >= 2 and parts[0] == "swarm" and parts[1].startswith("{"):
        if len(parts) == 2:
            return "Swarms"
        return TAGS.get(parts[2], "Swarms")  # lifecycle commands and anything new on a swarm
    return TAGS.get(parts[0] if parts else "", (current or ["Other"])[0].replace("-", " ").capitalize())


def derived(method: str, path: str) -> tuple[str, str]:
    """camelCase `<verb><Resource>` from the path, e.g. POST /api/swarm/{id}/approve → postSwarmApprove."""
    segments = [p for p in path.split("/") if p and p != "api" and not p.startswith("{")]
    resource = "".join(re.sub(r"[^A-Za-z0-9]+", " ", p).title().replace(" ", "") for p in segments)
    if path.rstrip("/").endswith("}"):  # one item, not the list: GET /api/things/{id} → getThingsItem
        resource += "Item"
    summary = f"{method.upper()} {path}"
    return method.lower() + resource, summary
