"""Task endpoints under /api/swarm/{swarmId}/tasks."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.lists import ListApi
from core.pagination import page_fields, paginate
from core.responses import envelope
from core.validation import validated
from swarms import services
from swarms.access import access_agent, access_swarm, access_task
from swarms.api.swarms import ERRORS
from swarms.serializers import RejectSerializer
from tasks.filters import TaskFilter
from tasks.models import Task
from tasks.serializers import TaskAssignSerializer, TaskCreateSerializer, TaskSerializer


class TaskListApi(ListApi):
    queryset = Task.objects.none()
    filterset_class = TaskFilter

    @extend_schema(
        responses={
            200: inline_serializer(
                "TaskList",
                {"swarmId": serializers.CharField(), "tasks": TaskSerializer(many=True), **page_fields()},
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        tasks, window = self.query(
            Task.objects.filter(swarm=swarm).select_related("assigned_agent").prefetch_related("dependencies")
        )
        page, fields = paginate(request, tasks.order_by("sequence", "id"), window)
        return Response({"swarmId": swarm.id, "tasks": TaskSerializer(page, many=True).data, **fields})

    @extend_schema(
        request=TaskCreateSerializer,
        responses={
            201: inline_serializer(
                "TaskCreated",
                {
                    "swarmId": serializers.CharField(),
                    "taskId": serializers.CharField(),
                    "status": serializers.CharField(),
                    "message": serializers.CharField(),
                    "data": TaskSerializer(),
                    "timestamp": serializers.DateTimeField(),
                },
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, swarm_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        data = validated(TaskCreateSerializer, request.data)
        task = services.swarm_add_task(
            swarm_id=swarm.id,
            name=data["name"],
            description=data["description"],
            type=data["type"],
            priority=data["priority"],
            requirements=dict(data["requirements"]),
            dependencies=data["dependencies"],
            requires_approval=data["requiresApproval"],
        )
        return envelope(
            201,
            swarmId=swarm.id,
            taskId=task.id,
            status=task.status,
            message="Task created successfully",
            data=TaskSerializer(task).data,
        )


class TaskAssignApi(APIView):
    @extend_schema(
        request=TaskAssignSerializer,
        responses={
            200: inline_serializer(
                "TaskAssigned",
                {
                    "swarmId": serializers.CharField(),
                    "taskId": serializers.CharField(),
                    "agentId": serializers.CharField(),
                    "status": serializers.CharField(),
                    "message": serializers.CharField(),
                    "timestamp": serializers.DateTimeField(),
                },
            ),
            **ERRORS,
        },
    )
    def post(self, request: Request, swarm_id: str, task_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        task = access_task(user=request.user, swarm=swarm, task_id=task_id, conflict_if_elsewhere=True)
        data = validated(TaskAssignSerializer, request.data)
        agent = access_agent(
            user=request.user, swarm=swarm, agent_id=data["agentId"], conflict_if_elsewhere=True
        )
        task = services.swarm_pin_task(swarm_id=swarm.id, task_id=task.id, agent_id=agent.id)
        return envelope(
            swarmId=swarm.id,
            taskId=task.id,
            agentId=agent.id,
            status=task.status,
            message=f"Task assigned to {agent.name}",
        )


TASK_COMMAND_RESPONSE = inline_serializer(
    "TaskCommandResult",
    {
        "swarmId": serializers.CharField(),
        "taskId": serializers.CharField(),
        "status": serializers.CharField(),
        "message": serializers.CharField(),
        "data": TaskSerializer(),
        "timestamp": serializers.DateTimeField(),
    },
)


class _TaskCommandApi(APIView):
    """POST /api/swarm/{id}/tasks/{taskId}/<command>: one service call on one task."""

    message: str

    def run(self, request: Request, swarm_id: str, task_id: str) -> Task:
        raise NotImplementedError

    @extend_schema(request=None, responses={200: TASK_COMMAND_RESPONSE, **ERRORS})
    def post(self, request: Request, swarm_id: str, task_id: str) -> Response:
        swarm = access_swarm(user=request.user, swarm_id=swarm_id)
        task = access_task(user=request.user, swarm=swarm, task_id=task_id)
        task = self.run(request, swarm.id, task.id)
        return envelope(
            swarmId=swarm.id,
            taskId=task.id,
            status=task.status,
            message=self.message,
            data=TaskSerializer(task).data,
        )


class TaskApproveApi(_TaskCommandApi):
    message = "Task output approved: the task is completed and its dependents may run"

    def run(self, request: Request, swarm_id: str, task_id: str) -> Task:
        return services.swarm_approve_task(swarm_id=swarm_id, task_id=task_id)


class TaskRejectApi(_TaskCommandApi):
    message = "Task output rejected"

    @extend_schema(request=RejectSerializer, responses={200: TASK_COMMAND_RESPONSE, **ERRORS})
    def post(self, request: Request, swarm_id: str, task_id: str) -> Response:
        return super().post(request, swarm_id, task_id)

    def run(self, request: Request, swarm_id: str, task_id: str) -> Task:
        data = validated(RejectSerializer, request.data)
        return services.swarm_reject_task(swarm_id=swarm_id, task_id=task_id, **data)


class TaskRetryApi(_TaskCommandApi):
    message = "Task queued to run again"

    def run(self, request: Request, swarm_id: str, task_id: str) -> Task:
        return services.swarm_retry_task(swarm_id=swarm_id, task_id=task_id)
