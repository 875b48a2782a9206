from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import stream
        from webhooks import services

        stream.subscribe(services.deliveries_enqueue)  # after each commit that wrote events
