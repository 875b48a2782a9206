from __future__ import annotations

from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The composition root. It stays an installed app for its migrations only: 0001 created the
    API key table, which the access app has owned since 0002 handed it over (state only)."""

    name = "claudeflow_site"
    verbose_name = "Site"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.urls import register_converter

        from claudeflow_site import checks  # noqa: F401  (registers the system checks)
        from core.ids import IdConverter

        register_converter(IdConverter, "id")  # before any URLconf loads
