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
        configure_admin_site()


def configure_admin_site() -> None:
    """The admin's header, and no "Django Dramatiq › Tasks" page: it lists what django_dramatiq's
    AdminMiddleware records, which this project does not use (jobs are tasks, calls and events)."""
    from django.contrib import admin
    from django_dramatiq.models import Task as DramatiqTask

    admin.site.site_header = "Claude-Flow server administration"
    admin.site.site_title = "Claude-Flow admin"
    admin.site.index_title = "Swarms, their agents, tasks, Claude calls and events"
    if admin.site.is_registered(DramatiqTask):
        admin.site.unregister(DramatiqTask)
