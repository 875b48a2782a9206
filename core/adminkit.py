"""Admin building blocks: read-only audit pages and links between the admin pages of one swarm."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record the engine writes and nobody edits (events, logs, Claude calls): view only.
    Deleting its swarm (through the swarm service) still removes it."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def changelist_url(model: str, **filters: Any) -> str:
    """`/admin/<app>/<model>/?field=value`, e.g. changelist_url("tasks.task", swarm__id__exact=id)."""
    app_label, model_name = model.split(".")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return reverse(f"admin:{app_label}_{model_name}_changelist") + (f"?{query}" if query else "")


def change_url(obj: Any) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def links(items: list[tuple[str, str]]) -> str:
    """[(label, url)] as links separated by a middle dot."""
    return format_html_join(" · ", '<a href="{}">{}</a>', ((url, label) for label, url in items))


def link(label: str, url: str) -> str:
    return format_html('<a href="{}">{}</a>', url, label)
