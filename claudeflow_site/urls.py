"""URL map: the spec's REST API under /api, the admin, the browser UI and Prometheus metrics."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from access import api as access_api
from agents import api as agents_api
from core import errors
from ops import api as ops_api
from ops.metrics import metrics_view
from swarms.api import swarms as swarms_api
from swarms.api.agents import AgentDetailApi, AgentListApi
from swarms.api.calls import CallDetailApi, CallListApi
from swarms.api.events import EventListApi
from swarms.api.strategies import StrategyDetailApi, StrategyListApi
from swarms.api.system import SystemStatsApi
from swarms.api.tasks import TaskApproveApi, TaskAssignApi, TaskListApi, TaskRejectApi, TaskRetryApi
from swarms.api.workspace import WorkspaceFileApi, WorkspaceListApi, WorkspaceZipApi
from webhooks import api as webhooks_api

_SWARM = "swarm/<id:swarm_id>"
swarm_urls = [
    path(_SWARM + "", swarms_api.SwarmDetailApi.as_view(), name="swarm-detail"),
    path(_SWARM + "/start", swarms_api.SwarmStartApi.as_view(), name="swarm-start"),
    path(_SWARM + "/pause", swarms_api.SwarmPauseApi.as_view(), name="swarm-pause"),
    path(_SWARM + "/resume", swarms_api.SwarmResumeApi.as_view(), name="swarm-resume"),
    path(_SWARM + "/stop", swarms_api.SwarmStopApi.as_view(), name="swarm-stop"),
    path(_SWARM + "/approve", swarms_api.SwarmApproveApi.as_view(), name="swarm-approve"),
    path(_SWARM + "/reject", swarms_api.SwarmRejectApi.as_view(), name="swarm-reject"),
    path(_SWARM + "/clone", swarms_api.SwarmCloneApi.as_view(), name="swarm-clone"),
    path(_SWARM + "/agents", AgentListApi.as_view(), name="swarm-agents"),
    path(_SWARM + "/agents/<id:agent_id>", AgentDetailApi.as_view(), name="swarm-agent"),
    path(_SWARM + "/tasks", TaskListApi.as_view(), name="swarm-tasks"),
    path(_SWARM + "/tasks/<id:task_id>/assign", TaskAssignApi.as_view(), name="swarm-task-assign"),
    path(_SWARM + "/tasks/<id:task_id>/approve", TaskApproveApi.as_view(), name="swarm-task-approve"),
    path(_SWARM + "/tasks/<id:task_id>/reject", TaskRejectApi.as_view(), name="swarm-task-reject"),
    path(_SWARM + "/tasks/<id:task_id>/retry", TaskRetryApi.as_view(), name="swarm-task-retry"),
    path(_SWARM + "/results", swarms_api.SwarmResultsApi.as_view(), name="swarm-results"),
    path(_SWARM + "/metrics", swarms_api.SwarmMetricsApi.as_view(), name="swarm-metrics"),
    path(_SWARM + "/logs", swarms_api.SwarmLogsApi.as_view(), name="swarm-logs"),
    path(_SWARM + "/events", EventListApi.as_view(), name="swarm-events"),
    path(_SWARM + "/workspace", WorkspaceListApi.as_view(), name="swarm-workspace"),
    path(_SWARM + "/workspace.zip", WorkspaceZipApi.as_view(), name="swarm-workspace-zip"),
    path(_SWARM + "/workspace/<path:path>", WorkspaceFileApi.as_view(), name="swarm-workspace-file"),
    path(_SWARM + "/calls", CallListApi.as_view(), name="swarm-calls"),
    path(_SWARM + "/calls/<id:call_id>", CallDetailApi.as_view(), name="swarm-call"),
]

api_urls = [
    path("health", ops_api.HealthApi.as_view(), name="health"),
    path("ready", ops_api.ReadyApi.as_view(), name="ready"),
    path("system/stats", SystemStatsApi.as_view(), name="system-stats"),
    path("swarm/create", swarms_api.SwarmCreateApi.as_view(), name="swarm-create"),
    path("swarms", swarms_api.SwarmListApi.as_view(), name="swarm-list"),
    *swarm_urls,
    path("agent-types", agents_api.AgentTypeListApi.as_view(), name="agent-types"),
    path("agent-types/<str:name>", agents_api.AgentTypeDetailApi.as_view(), name="agent-type"),
    path("strategies", StrategyListApi.as_view(), name="strategies"),
    path("strategies/<str:name>", StrategyDetailApi.as_view(), name="strategy"),
    path("keys", access_api.ApiKeyListApi.as_view(), name="keys"),
    path("keys/<id:key_id>", access_api.ApiKeyDetailApi.as_view(), name="key-detail"),
    path("webhooks", webhooks_api.WebhookListApi.as_view(), name="webhooks"),
    path("webhooks/<id:webhook_id>", webhooks_api.WebhookDetailApi.as_view(), name="webhook-detail"),
    path(
        "webhooks/<id:webhook_id>/rotate-secret",
        webhooks_api.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
    path(
        "webhooks/<id:webhook_id>/deliveries",
        webhooks_api.WebhookDeliveriesApi.as_view(),
        name="webhook-deliveries",
    ),
    path("auth/token", access_api.TokenObtainApi.as_view(), name="token"),
    path("auth/token/refresh", access_api.TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/logout", access_api.TokenLogoutApi.as_view(), name="logout"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"", errors.api_not_found),  # last: any other /api/ path is a JSON 404
]

urlpatterns = [
    path("api/", include((api_urls, "api"))),
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("", include(("ui.urls", "ui"))),
]

# JSON under /api/, Django's pages elsewhere (core.errors)
handler400 = "core.errors.bad_request"
handler403 = "core.errors.permission_denied"
handler404 = "core.errors.page_not_found"
handler500 = "core.errors.server_error"
