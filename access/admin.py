from __future__ import annotations

from django.contrib import admin

from access.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "owner",
        "permissions",
        "created_at",
        "last_used_at",
        "usage_count",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at", "created_at"]
    search_fields = ["name", "prefix", "owner__username"]
    list_select_related = ["owner"]
    readonly_fields = ["id", "prefix", "created_at", "last_used_at", "usage_count"]
    fields = [
        "id",
        "owner",
        "name",
        "prefix",
        "permissions",
        "expires_at",
        "revoked_at",
        "created_at",
        "last_used_at",
        "usage_count",
    ]

    def has_add_permission(self, request: object) -> bool:
        return False  # a key is shown once at creation: create them with the API, the UI or createapikey
