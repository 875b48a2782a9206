"""Swarm endpoints: thin views that validate, call a service and serialize."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.ratelimits import GeneralRateLimit, SwarmCreateRateLimit, counted_creation
from core.lists import ListApi
from core.pagination import ShortPageQuerySerializer, page_fields, paginate
from core.responses import ActionResponseSchema, ErrorSchema, envelope
from core.validation import validated
from events.filters import LogFilter
from events.models import LogEntry
from swarms import reports, services
from swarms.access import access_swarm
from swarms.filters import SwarmFilter
from swarms.models import Swarm
from swarms.serializers import (
    LogEntrySerializer,
    LogWindowSerializer,
    MetricsSerializer,
    RejectSerializer,
    ResultsSerializer,
    SwarmCreateSerializer,
    SwarmSerializer,
    SwarmWithPlanSerializer,
)

ERRORS = {
    400: ErrorSchema,
    401: ErrorSchema,
    403: ErrorSchema,
    404: ErrorSchema,
    409: ErrorSchema,
    429: ErrorSchema,
}


class SwarmCreateApi(APIView):
    throttle_classes = [GeneralRateLimit, SwarmCreateRateLimit]

    @extend_schema(
        request=SwarmCreateSerializer,
        responses={
            201: inline_serializer(
                "SwarmCreated",
                {
                    "swarmId": serializers.CharField(),
                    "status": serializers.ChoiceField(choices=Swarm.Status.values),
                    "message": serializers.CharField(),
                    "data": inline_serializer(
                        "SwarmCreatedData",
                        {
                            "objective": serializers.CharField(),
                            "strategy": serializers.CharField(),
                            "mode": serializers.ChoiceField(choices=Swarm.Mode.values),
                            "maxAgents": serializers.IntegerField(),
                            "timeout": serializers.IntegerField(),
                            "parallel": serializers.BooleanField(),
                            "name": serializers.CharField(),
                        },
                    ),
                    "timestamp": serializers.DateTimeField(),
                },
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request) -> Response:
        with counted_creation(request):  # only a created swarm uses up the caller's SWARM_CREATE_RATE
            data = validated(SwarmCreateSerializer, request.data, owner=request.user)
            swarm = services.swarm_create(owner=request.user, **SwarmCreateSerializer.service_arguments(data))
        summary = {
            "objective": swarm.objective,
            "strategy": swarm.strategy,
            "mode": swarm.mode,
            "maxAgents": swarm.max_agents,
            "timeout": swarm.timeout_ms,
            "parallel": swarm.parallel,
            "name": swarm.name,
        }
        return envelope(
            201, swarmId=swarm.id, status=swarm.status, message="Swarm created successfully", data=summary
        )


class SwarmListApi(ListApi):
    queryset = Swarm.objects.none()
    filterset_class = SwarmFilter
    window_class = ShortPageQuerySerializer

    @extend_schema(
        responses={
            200: inline_serializer("SwarmList", {"swarms": SwarmSerializer(many=True), **page_fields()}),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        swarms, window = self.query(Swarm.objects.visible_to(request.user))
        page, fields = paginate(
            request, swarms.with_progress().order_by("-created_at"), window, counted=swarms
        )
        return Response({"swarms": SwarmSerializer(page, many=True).data, **fields})


class SwarmDetailApi(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "SwarmDetail",
                {
                    "swarmId": serializers.CharField(),
                    "data": SwarmWithPlanSerializer(),
                    "timestamp": serializers.DateTimeField(),
                },
            ),
            **ERRORS,
        }
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        return envelope(swarmId=swarm.id, data=SwarmWithPlanSerializer(swarm).data)

    @extend_schema(responses={200: ActionResponseSchema, **ERRORS})
    def delete(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        services.swarm_delete(swarm_id=swarm.id)
        return envelope(swarmId=swarm.id, status="deleted", message="Swarm deleted successfully")


class _SwarmActionApi(APIView):
    service: Callable[..., Swarm]
    message: str

    @extend_schema(request=None, responses={200: ActionResponseSchema, **ERRORS})
    def post(self, request: Request, swarm_id: str) -> Response:
        access_swarm(user=request.user, swarm_id=swarm_id)
        swarm = type(self).service(swarm_id=swarm_id)
        return envelope(swarmId=swarm.id, status=swarm.status, message=self.message_for(swarm))

    def message_for(self, swarm: Swarm) -> str:
        return self.message


class SwarmStartApi(_SwarmActionApi):
    service = staticmethod(services.swarm_start)
    message = "Swarm started successfully"

    def message_for(self, swarm: Swarm) -> str:
        if swarm.status == Swarm.Status.PLANNING:
            return "Start requested: the swarm starts executing when planning completes"
        return self.message


class SwarmPauseApi(_SwarmActionApi):
    service = staticmethod(services.swarm_pause)
    message = "Swarm paused: running tasks finish, no new task starts"


class SwarmResumeApi(_SwarmActionApi):
    service = staticmethod(services.swarm_resume)
    message = "Swarm resumed"


class SwarmStopApi(_SwarmActionApi):
    service = staticmethod(services.swarm_stop)
    message = "Swarm stopped: pending tasks cancelled, running tasks aborted"


class SwarmApproveApi(_SwarmActionApi):
    service = staticmethod(services.swarm_approve)

    def message_for(self, swarm: Swarm) -> str:
        if swarm.status == Swarm.Status.EXECUTING:
            return "Plan approved: the swarm is executing"
        return "Plan approved: the swarm is ready; start it to run the plan"


class SwarmRejectApi(APIView):
    @extend_schema(request=RejectSerializer, responses={200: ActionResponseSchema, **ERRORS})
    def post(self, request: Request, swarm_id: str) -> Response:
        access_swarm(user=request.user, swarm_id=swarm_id)
        data = validated(RejectSerializer, request.data)
        swarm = services.swarm_reject(swarm_id=swarm_id, **data)
        message = (
            "Plan rejected: the swarm is stopped"
            if data["cancel"]
            else "Plan rejected: planning again with your feedback"
        )
        return envelope(swarmId=swarm.id, status=swarm.status, message=message)


class SwarmCloneApi(APIView):
    throttle_classes = [GeneralRateLimit, SwarmCreateRateLimit]

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "SwarmCloned",
                {
                    "swarmId": serializers.CharField(),
                    "clonedFrom": serializers.CharField(),
                    "status": serializers.CharField(),
                    "message": serializers.CharField(),
                    "timestamp": serializers.DateTimeField(),
                },
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, swarm_id: str) -> Response:
        source = access_swarm(user=request.user, swarm_id=swarm_id)
        with counted_creation(request):  # a clone is a create: it uses up SWARM_CREATE_RATE
            clone = services.swarm_clone(swarm_id=source.id, owner=request.user)
        return envelope(
            201,
            swarmId=clone.id,
            clonedFrom=source.id,
            status=clone.status,
            message="Swarm cloned: same objective, options and plan; start it to run",
        )


class SwarmResultsApi(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "SwarmResults",
                {
                    "swarmId": serializers.CharField(),
                    "status": serializers.ChoiceField(choices=Swarm.Status.values),
                    "results": ResultsSerializer(),
                },
            ),
            **ERRORS,
        }
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        return Response({"swarmId": swarm.id, "status": swarm.status, "results": reports.results(swarm)})


class SwarmMetricsApi(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "SwarmMetrics", {"swarmId": serializers.CharField(), "metrics": MetricsSerializer()}
            ),
            **ERRORS,
        }
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        return Response({"swarmId": swarm.id, "metrics": reports.metrics(swarm)})


class SwarmLogsApi(ListApi):
    """The latest lines, then older ones page by page with ?before= (a cursor, not an offset)."""

    queryset = LogEntry.objects.none()
    filterset_class = LogFilter
    window_class = LogWindowSerializer

    @extend_schema(
        responses={
            200: inline_serializer(
                "SwarmLogs",
                {
                    "swarmId": serializers.CharField(),
                    "logs": LogEntrySerializer(many=True),
                    "count": serializers.IntegerField(),
                    "before": serializers.IntegerField(
                        allow_null=True, help_text="pass as ?before= for the older lines; null: none older"
                    ),
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        entries, window = self.query(LogEntry.objects.filter(swarm=swarm))
        if "before" in window:
            entries = entries.filter(id__lt=window["before"])
        limit = window["limit"]
        latest = list(entries.order_by("-id")[: limit + 1])[::-1]  # one more: are there older lines?
        older = len(latest) > limit
        latest = latest[1:] if older else latest
        return Response(
            {
                "swarmId": swarm.id,
                "logs": LogEntrySerializer(latest, many=True).data,
                "count": len(latest),
                "before": latest[0].id if older else None,
            }
        )
