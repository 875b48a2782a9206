from __future__ import annotations

from django.apps import AppConfig


class EngineConfig(AppConfig):
    name = "engine"

    def ready(self) -> None:
        from engine import actors  # noqa: F401 — registers the actors on the broker (core.jobs sends by name)
