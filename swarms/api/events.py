"""GET /api/swarm/{swarmId}/events: the swarm's event stream over plain HTTP, paged by event id.

The same envelopes the WebSocket sends, in id order, after `afterId` (0 for the start): a client
that cannot hold a socket (a cron job, a webhook receiver catching up) reads the whole stream, and
`nextAfterId` is where its next request starts, so nothing is missed or read twice.
"""

from __future__ import annotations

import fnmatch

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.validation import validated
from swarms.access import access_swarm
from swarms.api.swarms import ERRORS
from swarms.streams import events_after_id

MAX_LIMIT = 500


class EventListQuerySerializer(serializers.Serializer):
    afterId = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=100)
    type = serializers.CharField(max_length=60, required=False, help_text="an event type or a glob: task.*")


class EventListApi(APIView):
    @extend_schema(
        operation_id="swarm_events_list",
        summary="Read the swarm's event stream after an event id",
        parameters=[
            OpenApiParameter(
                "afterId", int, description="events with a greater id (default 0: from the start)"
            ),
            OpenApiParameter("limit", int, description=f"page size, 1–{MAX_LIMIT} (default 100)"),
            OpenApiParameter("type", str, description="only this type, or a glob such as task.*"),
        ],
        responses={
            200: inline_serializer(
                "EventList",
                {
                    "swarmId": serializers.CharField(),
                    "events": inline_serializer(
                        "EventEnvelope",
                        {
                            "type": serializers.ChoiceField(choices=["swarm_event"]),
                            "eventId": serializers.IntegerField(),
                            "seq": serializers.IntegerField(help_text="the swarm's own event counter"),
                            "swarmId": serializers.CharField(),
                            "eventType": serializers.CharField(help_text="e.g. task.completed"),
                            "data": serializers.DictField(
                                help_text="the event's payload; its fields depend on eventType"
                            ),
                            "timestamp": serializers.DateTimeField(),
                        },
                        many=True,
                    ),
                    "nextAfterId": serializers.IntegerField(help_text="afterId of the next page"),
                    "hasMore": serializers.BooleanField(),
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        query = validated(EventListQuerySerializer, request.query_params)
        after, limit, kind = query["afterId"], query["limit"], query.get("type")
        page = events_after_id(swarm.id, after, limit=limit + 1)
        has_more = len(page) > limit
        page = page[:limit]
        next_after = page[-1]["eventId"] if page else after
        if kind:  # filtered after paging, so nextAfterId still moves past the events left out
            page = [event for event in page if fnmatch.fnmatchcase(event["eventType"], kind)]
        return Response({"swarmId": swarm.id, "events": page, "nextAfterId": next_after, "hasMore": has_more})
