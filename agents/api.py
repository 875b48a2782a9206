"""Agent types: GET/POST /api/agent-types and GET/PATCH/DELETE /api/agent-types/{name}.

A caller sees the built-in (global) types and their own; another user's type is a 404. Built-ins
cannot be changed or deleted (403), a type that live agents of an unfinished swarm use cannot be
deleted (409).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import AgentType
from agents.selectors import agent_types_visible
from agents.serializers import AgentTypeCreateSerializer, AgentTypeSerializer, AgentTypeUpdateSerializer
from agents.services import agent_type_create, agent_type_delete, agent_type_update
from core.errors import NotFound
from core.responses import ErrorSchema
from core.validation import validated

ERRORS = {400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema}


def access_agent_type(*, user: Any, name: str) -> AgentType:
    """A global type or the caller's own; anything else is a 404 (no existence leak)."""
    rows = list(agent_types_visible(user).filter(name=name))
    row = next((r for r in rows if r.owner_id is not None), None) or next(iter(rows), None)
    if row is None:
        raise NotFound(f"Agent type {name} not found")
    return row


class AgentTypeListApi(APIView):
    @extend_schema(
        operation_id="agent_types_list",
        responses={
            200: inline_serializer(
                "AgentTypeList",
                {"agentTypes": AgentTypeSerializer(many=True), "count": serializers.IntegerField()},
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        data = AgentTypeSerializer(agent_types_visible(request.user), many=True).data
        return Response({"agentTypes": data, "count": len(data)})

    @extend_schema(request=AgentTypeCreateSerializer, responses={201: AgentTypeSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = validated(AgentTypeCreateSerializer, request.data)
        row = agent_type_create(
            owner=request.user, name=data["name"], **AgentTypeCreateSerializer.service_arguments(data)
        )
        return Response(AgentTypeSerializer(row).data, status=201)


class AgentTypeDetailApi(APIView):
    @extend_schema(operation_id="agent_type_retrieve", responses={200: AgentTypeSerializer, **ERRORS})
    def get(self, request: Request, name: str) -> Response:
        return Response(AgentTypeSerializer(access_agent_type(user=request.user, name=name)).data)

    @extend_schema(request=AgentTypeUpdateSerializer, responses={200: AgentTypeSerializer, **ERRORS})
    def patch(self, request: Request, name: str) -> Response:
        row = access_agent_type(user=request.user, name=name)
        data = validated(AgentTypeUpdateSerializer, request.data)
        row = agent_type_update(agent_type=row, changes=AgentTypeUpdateSerializer.service_arguments(data))
        return Response(AgentTypeSerializer(row).data)

    @extend_schema(
        responses={
            200: inline_serializer(
                "AgentTypeDeleted", {"name": serializers.CharField(), "message": serializers.CharField()}
            ),
            **ERRORS,
        }
    )
    def delete(self, request: Request, name: str) -> Response:
        row = access_agent_type(user=request.user, name=name)
        agent_type_delete(agent_type=row)
        return Response({"name": name, "message": "Agent type deleted"})
