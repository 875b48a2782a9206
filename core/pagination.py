"""limit/offset pages for the API's lists, in the shape GET /api/swarms has always had:
`{<items>, count (the total), limit, offset, next, previous}`. The defaults are large enough that a
swarm's tasks or agents still come in one page unless the caller asks for less.

The page's parameters are a list's *window* (core.lists.ListApi.window_class), not filters: they
are validated together with the list's FilterSet and documented in /api/schema from these
serializers (their bounds and defaults included)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.request import Request

MAX_OFFSET = 1_000_000_000  # far past any real list, far below PostgreSQL's bigint OFFSET
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def page_fields() -> dict[str, serializers.Field]:
    """The page's own fields, for a list's response schema."""
    return {
        "count": serializers.IntegerField(help_text="items in all pages"),
        "limit": serializers.IntegerField(),
        "offset": serializers.IntegerField(),
        "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True),
    }


class PageQuerySerializer(serializers.Serializer):
    """A page of a swarm's tasks, agents or calls, or of your API keys."""

    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT, help_text="page size"
    )
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0, help_text="items to skip")


class ShortPageQuerySerializer(PageQuerySerializer):
    """A page of your swarms or of a webhook's deliveries: 20 by default, at most 100."""

    limit = serializers.IntegerField(min_value=1, max_value=100, default=20, help_text="page size")


def paginate(
    request: Request, queryset: QuerySet[Any], window: dict[str, Any], *, counted: QuerySet[Any] | None = None
) -> tuple[list[Any], dict[str, Any]]:
    """(the page's rows, the page fields) for a validated `window` ({limit, offset}); `queryset`
    must be ordered. `counted`, when given, is what is counted instead (the same rows without
    annotations a count does not need)."""
    limit, offset = window["limit"], window["offset"]
    total = (queryset if counted is None else counted).count()
    rows = list(queryset[offset : offset + limit])
    return rows, {
        "count": total,
        "limit": limit,
        "offset": offset,
        "next": page_url(request, limit, offset + limit) if offset + limit < total else None,
        "previous": page_url(request, limit, max(0, offset - limit)) if offset else None,
    }


def page_url(request: Request, limit: int, offset: int) -> str:
    params = request.query_params.copy()
    params["limit"], params["offset"] = str(limit), str(offset)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
