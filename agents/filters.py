"""Filters of a swarm's agent list (core.filters)."""

from __future__ import annotations

import django_filters

from agents.models import Agent


class AgentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Agent.Status.choices, help_text="only agents in this status")

    class Meta:
        model = Agent
        fields = ["status"]
