from __future__ import annotations

from django.apps import AppConfig


class SwarmsConfig(AppConfig):
    name = "swarms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from ops import metrics
        from swarms import revocation
        from swarms.selectors import swarm_counts_by_status

        metrics.count_swarms_with(swarm_counts_by_status)
        revocation.connect()
