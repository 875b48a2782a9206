"""Strategies: GET/POST /api/strategies and GET/PATCH/DELETE /api/strategies/{name}.

A caller sees the built-in (global) strategies and their own; another user's is a 404. Built-ins
cannot be changed or deleted (403); a strategy a swarm is still being planned with cannot be
deleted (409).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from core.responses import ErrorSchema
from core.validation import validated
from swarms.models import Strategy
from swarms.selectors import strategies_visible
from swarms.serializers import StrategyCreateSerializer, StrategySerializer, StrategyUpdateSerializer
from swarms.services import strategy_create, strategy_delete, strategy_update

ERRORS = {400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema}


def access_strategy(*, user: Any, name: str) -> Strategy:
    """A global strategy or the caller's own; anything else is a 404 (no existence leak)."""
    rows = list(strategies_visible(user).filter(name=name))
    row = next((r for r in rows if r.owner_id is not None), None) or next(iter(rows), None)
    if row is None:
        raise NotFound(f"Strategy {name} not found")
    return row


class StrategyListApi(APIView):
    @extend_schema(
        operation_id="strategies_list",
        responses={
            200: inline_serializer(
                "StrategyList",
                {"strategies": StrategySerializer(many=True), "count": serializers.IntegerField()},
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        data = StrategySerializer(strategies_visible(request.user), many=True).data
        return Response({"strategies": data, "count": len(data)})

    @extend_schema(request=StrategyCreateSerializer, responses={201: StrategySerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = validated(StrategyCreateSerializer, request.data)
        row = strategy_create(owner=request.user, **data)
        return Response(StrategySerializer(row).data, status=201)


class StrategyDetailApi(APIView):
    @extend_schema(operation_id="strategy_retrieve", responses={200: StrategySerializer, **ERRORS})
    def get(self, request: Request, name: str) -> Response:
        return Response(StrategySerializer(access_strategy(user=request.user, name=name)).data)

    @extend_schema(request=StrategyUpdateSerializer, responses={200: StrategySerializer, **ERRORS})
    def patch(self, request: Request, name: str) -> Response:
        row = access_strategy(user=request.user, name=name)
        data = validated(StrategyUpdateSerializer, request.data)
        return Response(StrategySerializer(strategy_update(strategy=row, changes=dict(data))).data)

    @extend_schema(
        responses={
            200: inline_serializer(
                "StrategyDeleted", {"name": serializers.CharField(), "message": serializers.CharField()}
            ),
            **ERRORS,
        }
    )
    def delete(self, request: Request, name: str) -> Response:
        strategy_delete(strategy=access_strategy(user=request.user, name=name))
        return Response({"name": name, "message": "Strategy deleted"})
