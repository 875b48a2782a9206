"""Filters of a swarm's event stream and of its log (core.filters)."""

from __future__ import annotations

import fnmatch

import django_filters
from django.db.models import QuerySet

from core.filters import choices_of
from events.models import Event, LogEntry


class EventFilter(django_filters.FilterSet):
    type = django_filters.CharFilter(
        method="of_type", max_length=60, help_text="only this type, or a glob such as task.*"
    )

    class Meta:
        model = Event
        fields = ["type"]

    def of_type(self, queryset: QuerySet[Event], name: str, value: str) -> QuerySet[Event]:
        # matched as webhooks and plugins match (fnmatch), against the types among these rows
        present = queryset.order_by().values_list("type", flat=True).distinct()
        return queryset.filter(type__in=[kind for kind in present if fnmatch.fnmatchcase(kind, value)])


class LogFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(
        choices=choices_of(LogEntry.Level.labels), method="at_least", help_text="minimum level"
    )

    class Meta:
        model = LogEntry
        fields = ["level"]

    def at_least(self, queryset: QuerySet[LogEntry], name: str, value: str) -> QuerySet[LogEntry]:
        return queryset.filter(level__gte=LogEntry.Level[value.upper()])
