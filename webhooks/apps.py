from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import stream
        from webhooks import services

        stream.on_write(services.deliveries_write)  # in each transaction that writes events
