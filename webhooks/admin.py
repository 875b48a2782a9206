"""Operators see every webhook (never its secret) and a read-only delivery log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from webhooks.models import Delivery, DeliveryAttempt, Webhook


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["id", "url", "owner", "event_types", "active", "consecutive_failures", "created_at"]
    list_filter = ["active", "created_at"]
    search_fields = ["id", "url", "owner__username", "description"]
    list_select_related = ["owner"]
    fields = [
        "id",
        "owner",
        "url",
        "description",
        "event_types",
        "swarm_id",
        "active",
        "consecutive_failures",
        "disabled_reason",
        "created_at",
        "updated_at",
    ]  # not the secret: it was shown to its owner once
    readonly_fields = [
        "id",
        "owner",
        "url",
        "event_types",
        "swarm_id",
        "consecutive_failures",
        "disabled_reason",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request: Any) -> bool:
        return False  # a secret is shown once at creation: create them with the API or the UI


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["number", "status_code", "latency_ms", "error", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "webhook",
        "event_type",
        "event_id",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    ]
    list_filter = ["status", "event_type", "created_at"]
    search_fields = ["webhook__id", "webhook__url", "swarm_id", "event_type"]
    list_select_related = ["webhook"]
    readonly_fields = [
        "webhook",
        "event_id",
        "event_type",
        "swarm_id",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "finished_at",
    ]
    fields = readonly_fields
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
