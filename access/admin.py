from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access.models import ApiKey
from access.services import apikey_revoke
from core.errors import ApplicationError


class ApiKeyForm(forms.ModelForm):
    permissions = forms.MultipleChoiceField(
        choices=ApiKey.Permission.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = ApiKey
        fields = ["owner", "name", "permissions", "expires_at"]

    def clean_permissions(self) -> list[str]:
        order = list(ApiKey.Permission.values)
        return sorted(set(self.cleaned_data["permissions"]), key=order.index)


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
    form = ApiKeyForm
    # revoked through the action (access.services.apikey_revoke), never by editing a date
    readonly_fields = ["id", "owner", "prefix", "created_at", "last_used_at", "usage_count", "revoked_at"]
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
    actions = ["revoke_keys"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a key is shown once at creation: create them with the API, the UI or createapikey

    @admin.action(description="Revoke selected API keys (refused from their next request)")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        done = 0
        for key_id in queryset.values_list("id", flat=True):
            try:
                apikey_revoke(key_id=key_id)
                done += 1
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        if done:
            self.message_user(request, f"Revoked {done} API key(s).", messages.SUCCESS)
