"""Agent endpoints under /api/swarm/{swarmId}/agents."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.filters import AgentFilter
from agents.models import Agent
from agents.serializers import AgentSerializer, AgentSpawnSerializer
from core.lists import ListApi
from core.pagination import page_fields, paginate
from core.responses import envelope
from core.validation import validated
from swarms import services
from swarms.access import access_agent, access_swarm
from swarms.api.swarms import ERRORS


def _agent_envelope() -> dict[str, serializers.Field]:
    """Fresh fields per component: drf-spectacular drops a second inline serializer built from the
    same field instances (DELETE was documented as "No response body")."""
    return {
        "swarmId": serializers.CharField(),
        "agentId": serializers.CharField(),
        "status": serializers.CharField(),
        "message": serializers.CharField(),
        "data": AgentSerializer(),
        "timestamp": serializers.DateTimeField(),
    }


class AgentListApi(ListApi):
    queryset = Agent.objects.none()
    filterset_class = AgentFilter

    @extend_schema(
        operation_id="swarm_agents_list",
        responses={
            200: inline_serializer(
                "AgentList",
                {"swarmId": serializers.CharField(), "agents": AgentSerializer(many=True), **page_fields()},
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        agents, window = self.query(Agent.objects.filter(swarm=swarm))
        page, fields = paginate(request, agents.order_by("created_at", "instance", "id"), window)
        return Response({"swarmId": swarm.id, "agents": AgentSerializer(page, many=True).data, **fields})

    @extend_schema(
        request=AgentSpawnSerializer,
        responses={201: inline_serializer("AgentSpawned", _agent_envelope()), **ERRORS},
    )
    def post(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        data = validated(AgentSpawnSerializer, request.data, owner=swarm.owner)
        agent = services.swarm_spawn_agent(
            swarm_id=swarm.id, type=data["type"], name=data.get("name", ""), capabilities=data["capabilities"]
        )
        return envelope(
            201,
            swarmId=swarm.id,
            agentId=agent.id,
            status=agent.status,
            message="Agent spawned successfully",
            data=AgentSerializer(agent).data,
        )


class AgentDetailApi(APIView):
    @extend_schema(
        operation_id="swarm_agent_retrieve",
        responses={
            200: inline_serializer(
                "AgentDetail",
                {
                    "swarmId": serializers.CharField(),
                    "data": AgentSerializer(),
                    "timestamp": serializers.DateTimeField(),
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str, agent_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        agent = access_agent(user=request.user, swarm=swarm, agent_id=agent_id)
        return envelope(swarmId=swarm.id, data=AgentSerializer(agent).data)

    @extend_schema(responses={200: inline_serializer("AgentTerminated", _agent_envelope()), **ERRORS})
    def delete(self, request: Request, swarm_id: str, agent_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        access_agent(user=request.user, swarm=swarm, agent_id=agent_id)
        agent = services.swarm_terminate_agent(swarm_id=swarm.id, agent_id=agent_id)
        return envelope(
            swarmId=swarm.id,
            agentId=agent.id,
            status=agent.status,
            message="Agent terminated",
            data=AgentSerializer(agent).data,
        )
