"""A swarm's workspace under /api/swarm/{swarmId}/workspace: list, one file (or its history), zip.

Read-only: files are written by the agents' tools. Owner-only like every swarm object (a swarm the
caller may not see is a 404).
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed
from core.responses import ErrorSchema
from swarms.access import access_swarm
from swarms.api.swarms import ERRORS
from workspaces import services
from workspaces.archive import workspace_zip
from workspaces.models import WorkspaceFile
from workspaces.serializers import (
    WorkspaceEntrySerializer,
    WorkspaceFileSerializer,
    WorkspaceVersionSerializer,
)

# text shown as text: never sniffed, never run, not even if a browser opens it directly
RAW_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def _version(request: Request) -> int | None:
    raw = request.query_params.get("version")
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 2**31 - 1:
        raise ValidationFailed(
            "version must be a whole number ≥ 1",
            details=[{"field": "version", "message": "must be a whole number ≥ 1", "value": raw[:200]}],
        )
    return int(raw)


class WorkspaceListApi(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "WorkspaceList",
                {
                    "swarmId": serializers.CharField(),
                    "files": WorkspaceEntrySerializer(many=True),
                    "count": serializers.IntegerField(),
                    "totalBytes": serializers.IntegerField(),
                },
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        files = services.file_list(swarm_id=swarm.id)
        data = WorkspaceEntrySerializer(files, many=True).data
        total = sum(entry["size"] for entry in data)
        return Response({"swarmId": swarm.id, "files": data, "count": len(data), "totalBytes": total})


class WorkspaceFileApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("path", str, OpenApiParameter.PATH, description="file path; may contain '/'"),
            OpenApiParameter("version", int, description="a version (default: the latest)"),
            OpenApiParameter("raw", bool, description="the content alone, as text/plain"),
            OpenApiParameter("history", bool, description="every version of the file, without content"),
        ],
        responses={
            (200, "application/json"): WorkspaceFileSerializer,
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="with ?raw=1"),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str, path: str) -> HttpResponse:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        if _flag(request, "history"):
            versions = services.file_history(swarm_id=swarm.id, path=path)
            return Response(
                {
                    "swarmId": swarm.id,
                    "path": versions[0].path,
                    "versions": WorkspaceVersionSerializer(versions, many=True).data,
                }
            )
        file = services.file_read(swarm_id=swarm.id, path=path, version=_version(request))
        if _flag(request, "raw"):
            return HttpResponse(file.content, content_type="text/plain; charset=utf-8", headers=RAW_HEADERS)
        file.versions = WorkspaceFile.objects.filter(swarm_id=swarm.id, path=file.path).count()
        return Response({"swarmId": swarm.id, **WorkspaceFileSerializer(file).data})


class WorkspaceZipApi(APIView):
    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="latest versions"),
            413: ErrorSchema,
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str) -> HttpResponse:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        name = f"{swarm.id}-workspace"
        return HttpResponse(
            workspace_zip(swarm_id=swarm.id, folder=name),
            content_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
        )
