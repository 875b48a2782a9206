"""The base of the API's list views.

A list's query parameters are of two kinds, declared once each and documented in /api/schema from
those declarations (core.schema.AutoSchema):
- its filters, which choose the rows: a django-filter FilterSet in the app's `filters.py`
  (`filterset_class`), applied by core.filters.FilterBackend;
- its window, which chooses the page of those rows: `limit`/`offset` (core.pagination), or a cursor
  such as the logs' `before` or the events' `afterId`: a serializer (`window_class`).
`ListApi.query()` checks both at once, so every bad parameter is named in one 400, and a parameter
the list does not take but resembles one it does (`stauts`) is reported instead of being ignored."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from core.errors import ValidationFailed
from core.filters import FilterBackend
from core.pagination import PageQuerySerializer
from core.validation import misspelled_parameters, validated

M = TypeVar("M", bound=Model)


class ListApi(GenericAPIView):
    # `queryset` only names the model listed (the schema reads it); each view scopes its own rows
    filter_backends = [FilterBackend]
    filterset_class: Any = None
    window_class: type[serializers.Serializer] = PageQuerySerializer

    def query(self, queryset: QuerySet[M]) -> tuple[QuerySet[M], dict[str, Any]]:
        """(the rows the filters keep, the window's validated parameters), or ValidationFailed."""
        params = self.request.query_params
        window_names = list(self.window_class().fields)
        problems: list[dict[str, Any]] = []
        try:
            queryset = self.filter_queryset(queryset)
        except ValidationFailed as error:
            problems += error.details or []
        window: dict[str, Any] = {}
        try:
            window = validated(self.window_class, {k: v for k, v in params.items() if k in window_names})
        except ValidationFailed as error:
            problems += error.details or []
        filter_names = list(self.filterset_class.base_filters) if self.filterset_class else []
        problems += misspelled_parameters(filter_names + window_names, params)
        if problems:
            raise ValidationFailed("Request is invalid", details=problems)
        return queryset, window
