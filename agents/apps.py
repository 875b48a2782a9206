from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_builtins(sender: AppConfig, **kwargs: Any) -> None:
    # like contenttypes and permissions: every migrate (and a test database's flush) brings the
    # global rows in step with the code's registry
    from agents.services import agent_types_sync_builtins

    agent_types_sync_builtins()


class AgentsConfig(AppConfig):
    name = "agents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_sync_builtins, sender=self, dispatch_uid="agents.sync_builtin_types")
