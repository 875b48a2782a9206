"""limit/offset pages for the API's lists, in the shape GET /api/swarms has always had:
`{<items>, count (the total), limit, offset, next, previous}`. The defaults are large enough that a
swarm's tasks or agents still come in one page unless the caller asks for less."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request

from core.validation import validated

MAX_OFFSET = 1_000_000_000
DEFAULT_LIMIT = 100
MAX_LIMIT = 500

PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description=f"page size, 1–{MAX_LIMIT} (default {DEFAULT_LIMIT})"),
    OpenApiParameter("offset", int, description=f"items to skip, 0–{MAX_OFFSET:,} (default 0)"),
]


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
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, default=0)


def paginate(request: Request, queryset: QuerySet[Any]) -> tuple[list[Any], dict[str, Any]]:
    """(the page's rows, the page fields); `queryset` must be ordered. Bad limit/offset → 400."""
    query = validated(
        PageQuerySerializer, {k: v for k, v in request.query_params.items() if k in ("limit", "offset")}
    )
    limit, offset = query["limit"], query["offset"]
    total = queryset.count()
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
