from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_builtins(sender: AppConfig, **kwargs: Any) -> None:
    # every migrate (and a test database's flush) brings the global rows in step with the code
    from swarms.services import strategies_sync_builtins

    strategies_sync_builtins()


class SwarmsConfig(AppConfig):
    name = "swarms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ops import metrics
        from swarms import revocation
        from swarms.selectors import swarm_counts_by_status

        metrics.count_swarms_with(swarm_counts_by_status)
        revocation.connect()
        post_migrate.connect(_sync_builtins, sender=self, dispatch_uid="swarms.sync_builtin_strategies")
