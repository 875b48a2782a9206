"""django-filter for the API's lists, answering bad input in the house's shape.

Each list declares its filters once, as a django-filter FilterSet in its app's `filters.py`; the
view names it (`filterset_class`) and filters with `FilterBackend`, and drf-spectacular's django-filter
extension documents every filter in /api/schema (with its enum where it has choices). A value the
FilterSet refuses is a 400 like any other: `status must be one of pending, …; got "runing" (did you
mean "running"?)`, never a silently unfiltered list."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from core.errors import ValidationFailed, _jsonable
from core.validation import one_of_message


class FilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend whose 400 is ValidationFailed with one {field, message, value} a problem."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise ValidationFailed("Request is invalid", details=filter_problems(filterset))
        return filterset.qs


def filter_problems(filterset: django_filters.FilterSet) -> list[dict[str, Any]]:
    problems = []
    for name, errors in filterset.form.errors.as_data().items():
        value = filterset.data.get(name)
        choices = filterset.filters[name].extra.get("choices") if name in filterset.filters else None
        for error in errors:
            if error.code == "invalid_choice" and choices:
                message = one_of_message(name, [str(choice) for choice, _ in choices], value)
            else:
                message = " ".join(error.messages)
            problems.append({"field": name, "message": message, "value": _jsonable(value)})
    return problems


def choices_of(values: list[str]) -> list[tuple[str, str]]:
    """A ChoiceFilter's choices from a list of values: the API takes and documents the values."""
    return [(value, value) for value in values]
