from __future__ import annotations

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import plugins, stream

        stream.subscribe(plugins.runner.submit)  # plugin hooks, after commit (events.plugins)
