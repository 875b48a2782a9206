"""Python client for the Claude-Flow server.

from claudeflow import Client

with Client() as client:  # CLAUDEFLOW_URL, CLAUDEFLOW_API_KEY
    swarm = client.swarms.run("Build a REST API for user management", strategy="development")
    for event in client.swarms.stream(swarm.id):
        print(event.event_type, event.data.get("name", ""))
    print(client.swarms.results(swarm.id).outputs)
"""

from claudeflow._stream import StreamOptions
from claudeflow._version import __version__
from claudeflow.aio import AsyncClient
from claudeflow.client import Client
from claudeflow.errors import (
    APIConnectionError,
    APIError,
    AuthError,
    ClaudeFlowError,
    ConfigurationError,
    Conflict,
    LimitExceeded,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    StreamError,
    ValidationError,
    WaitTimeout,
    WebhookVerificationError,
)
from claudeflow.models import (
    ActionResult,
    Agent,
    ApiKey,
    ClaudeCall,
    CreatedApiKey,
    Event,
    LogEntry,
    Metrics,
    Page,
    Results,
    Spend,
    Swarm,
    Task,
    Webhook,
    WorkspaceEntry,
    WorkspaceFile,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "ActionResult",
    "Agent",
    "ApiKey",
    "AsyncClient",
    "AuthError",
    "ClaudeCall",
    "ClaudeFlowError",
    "Client",
    "ConfigurationError",
    "Conflict",
    "CreatedApiKey",
    "Event",
    "LimitExceeded",
    "LogEntry",
    "Metrics",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "Results",
    "ServerError",
    "ServiceUnavailable",
    "Spend",
    "StreamError",
    "StreamOptions",
    "Swarm",
    "Task",
    "ValidationError",
    "WaitTimeout",
    "Webhook",
    "WebhookVerificationError",
    "WorkspaceEntry",
    "WorkspaceFile",
    "__version__",
]
