from __future__ import annotations

from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The project package is also an app: it owns API keys and the management commands."""

    name = "claudeflow_site"
    verbose_name = "Access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from claudeflow_site import schema  # noqa: F401 — registers the OpenAPI auth extension
