"""Filters of GET /api/swarms (core.filters)."""

from __future__ import annotations

import django_filters

from swarms.models import Swarm


class SwarmFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Swarm.Status.choices, help_text="only swarms in this status")

    class Meta:
        model = Swarm
        fields = ["status"]
