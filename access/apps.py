from __future__ import annotations

from django.apps import AppConfig


class AccessConfig(AppConfig):
    """API keys, authentication and rate limits, and the `createapikey` and `quickstart` commands."""

    name = "access"
    verbose_name = "Access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from access import schema  # noqa: F401 — registers the OpenAPI auth extension
