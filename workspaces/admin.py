from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from workspaces.models import WorkspaceFile


@admin.register(WorkspaceFile)
class WorkspaceFileAdmin(admin.ModelAdmin):
    """Read-only: files are written by agents' tools (workspaces.services) only."""

    list_display = ["path", "version", "swarm", "size", "task", "call", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["path", "swarm__id", "task__id", "sha256"]
    list_select_related = ["swarm", "task", "call"]
    ordering = ["swarm", "path", "-version"]
    readonly_fields = [f.name for f in WorkspaceFile._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
