"""Browser UI routes (mounted at the site root under the `ui` namespace)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from ui import calls, views, webhooks

_SWARM = "swarms/<id:swarm_id>"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path(
        "login",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),  # POST only (Django ≥ 5)
    path(_SWARM, views.swarm_detail, name="swarm"),
    path(_SWARM + "/state", views.swarm_state_json, name="swarm-state"),
    path(_SWARM + "/start", views.swarm_start, name="swarm-start"),
    path(_SWARM + "/approve", views.swarm_approve, name="swarm-approve"),
    path(_SWARM + "/reject", views.swarm_reject, name="swarm-reject"),
    path(_SWARM + "/clone", views.swarm_clone, name="swarm-clone"),
    path(_SWARM + "/tasks/<id:task_id>/approve", views.task_approve, name="task-approve"),
    path(_SWARM + "/tasks/<id:task_id>/reject", views.task_reject, name="task-reject"),
    path(_SWARM + "/tasks/<id:task_id>/retry", views.task_retry, name="task-retry"),
    path(_SWARM + "/results", views.swarm_results, name="results"),
    path(_SWARM + "/tasks/<id:task_id>/artifacts/<int:index>", views.artifact_download, name="artifact"),
    path(_SWARM + "/workspace.zip", views.workspace_zip_download, name="workspace-zip"),
    path(_SWARM + "/workspace/file", views.workspace_file_download, name="workspace-file"),
    path(_SWARM + "/calls", calls.call_list, name="calls"),
    path(_SWARM + "/calls/<id:call_id>", calls.call_detail, name="call"),
    path("agent-types", views.agent_types, name="agent-types"),
    path("keys", views.api_keys, name="keys"),
    path("keys/<id:key_id>/revoke", views.api_key_revoke, name="key-revoke"),
    path("webhooks", webhooks.webhook_list, name="webhooks"),
    path("webhooks/<id:webhook_id>", webhooks.webhook_detail, name="webhook"),
    path("webhooks/<id:webhook_id>/toggle", webhooks.webhook_toggle, name="webhook-toggle"),
    path("webhooks/<id:webhook_id>/delete", webhooks.webhook_delete, name="webhook-delete"),
    path(
        "webhooks/<id:webhook_id>/rotate-secret", webhooks.webhook_rotate_secret, name="webhook-rotate-secret"
    ),
]
