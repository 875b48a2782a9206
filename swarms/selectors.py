"""Read queries about swarms that other layers ask for."""

from __future__ import annotations

from django.db.models import Count

from swarms.models import Swarm


def swarm_counts_by_status() -> dict[str, int]:
    counts = dict(Swarm.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in Swarm.Status.values}
