"""drf-spectacular's AutoSchema, taught the house's list views (core.lists.ListApi)."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi

from core.lists import ListApi


class AutoSchema(openapi.AutoSchema):
    """A ListApi's GET documents its FilterSet's filters (drf-spectacular's django-filter extension)
    and its window's parameters (the serializer exploded into query parameters, bounds and defaults
    included), from the declarations the view validates with.

    drf-spectacular documents filters only on views it takes for lists (a ListModelMixin, or a list
    serializer as the response); ours answer one object (`{tasks, count, limit, …}`), so it is told."""

    def _is_list_api_get(self) -> bool:
        return self.method == "GET" and isinstance(self.view, ListApi)

    def get_filter_backends(self) -> list[Any]:
        if self._is_list_api_get():
            return list(self.view.filter_backends)
        return super().get_filter_backends()

    def get_override_parameters(self) -> list[Any]:
        window = [self.view.window_class] if self._is_list_api_get() else []
        return [*window, *super().get_override_parameters()]
