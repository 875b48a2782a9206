"""GET /api/swarm/{swarmId}/events: the swarm's event stream over plain HTTP, paged by event id.

The same envelopes the WebSocket sends, in id order, after `afterId` (0 for the start): a client
that cannot hold a socket (a cron job, a webhook receiver catching up) reads the whole stream, and
`nextAfterId` is where its next request starts, so nothing is missed or read twice.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.lists import ListApi
from events.filters import EventFilter
from events.models import Event
from events.stream import envelope
from swarms.access import access_swarm
from swarms.api.swarms import ERRORS

MAX_LIMIT = 500


class EventWindowSerializer(serializers.Serializer):
    """Which events one answer covers (its filter: events.filters.EventFilter)."""

    afterId = serializers.IntegerField(
        min_value=0, default=0, help_text="events with a greater id (default 0: from the start)"
    )
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=100, help_text="page size")


class EventListApi(ListApi):
    queryset = Event.objects.none()
    filterset_class = EventFilter
    window_class = EventWindowSerializer

    @extend_schema(
        operation_id="swarm_events_list",
        summary="Read the swarm's event stream after an event id",
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
        events, window = self.query(Event.objects.filter(swarm_id=swarm.id))
        after, limit = window["afterId"], window["limit"]
        # the page is the next `limit` events and the filters choose among them, so nextAfterId
        # still moves past the events a filter leaves out
        ids = (
            Event.objects.filter(swarm_id=swarm.id, id__gt=after).order_by("id").values_list("id", flat=True)
        )
        window_ids = list(ids[: limit + 1])  # one more: is there a next page?
        last = window_ids[:limit][-1] if window_ids else after
        rows = events.filter(id__gt=after, id__lte=last).order_by("id") if window_ids else []
        page = [envelope(event) for event in rows]
        return Response(
            {"swarmId": swarm.id, "events": page, "nextAfterId": last, "hasMore": len(window_ids) > limit}
        )
