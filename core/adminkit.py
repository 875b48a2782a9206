"""Admin building blocks: read-only audit pages and links between the admin pages of one swarm."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.utils import quote
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
    query = urlencode(filters)
    return reverse(f"admin:{app_label}_{model_name}_changelist") + (f"?{query}" if query else "")


def change_url(obj: Any) -> str:
    """Quoted as the admin quotes ids: raw, an id with `_22`…`_26` or `_40` in it (one random id in
    ~200) would be read back as another id and the link would lead nowhere."""
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[quote(obj.pk)])


def links(items: list[tuple[str, str]]) -> str:
    """[(label, url)] as links separated by a middle dot."""
    return format_html_join(" · ", '<a href="{}">{}</a>', ((url, label) for label, url in items))


def link(label: str, url: str) -> str:
    return format_html('<a href="{}">{}</a>', url, label)
