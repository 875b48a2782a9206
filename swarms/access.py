"""Read access for views: a row the caller may not see is a 404, never a 403 (no existence leak)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet

from agents.models import Agent
from core.errors import Conflict, NotFound
from core.prepared import Prepared
from swarms.models import Swarm
from tasks.models import Task


def _visible_swarm(*, staff: bool) -> Callable[..., QuerySet]:
    """`Swarm.objects.visible_to`'s own rule for a viewer who is staff or not, with the viewer's
    id as the compiled read's parameter (a user stand-in: only its id and is_staff are read)."""

    def build(key: Any, swarm_id: str, viewer_id: int | None = None) -> QuerySet:
        viewer = get_user_model()(pk=viewer_id, is_staff=staff)
        return Swarm.objects.visible_to(viewer).filter(pk=swarm_id)[:1]

    return build


# every request about a swarm reads it first: compiled once per shape (staff see every swarm)
_VISIBLE_TO_STAFF = Prepared(_visible_swarm(staff=True), swarm_id=str)
_VISIBLE_TO_USER = Prepared(_visible_swarm(staff=False), swarm_id=str, viewer_id=int)


def access_swarm(*, user: Any, swarm_id: str) -> Swarm:
    if getattr(user, "is_staff", False):
        rows = _VISIBLE_TO_STAFF.read(swarm_id=swarm_id)
    elif getattr(user, "pk", None) is None:  # anonymous: sees none
        rows = []
    else:
        rows = _VISIBLE_TO_USER.read(swarm_id=swarm_id, viewer_id=user.pk)
    swarm = rows[0] if rows else None
    if swarm is None:
        raise NotFound(f"Swarm {swarm_id} not found")
    return swarm


def access_agent(*, user: Any, swarm: Swarm, agent_id: str, conflict_if_elsewhere: bool = False) -> Agent:
    return _member(Agent, "Agent", user=user, swarm=swarm, pk=agent_id, conflict=conflict_if_elsewhere)


def access_task(*, user: Any, swarm: Swarm, task_id: str, conflict_if_elsewhere: bool = False) -> Task:
    return _member(Task, "Task", user=user, swarm=swarm, pk=task_id, conflict=conflict_if_elsewhere)


def _member(
    model: type[models.Model], label: str, *, user: Any, swarm: Swarm, pk: str, conflict: bool
) -> Any:
    """A row of `swarm`. A row of another swarm the caller can see is a 409 where the request
    tries to use it across swarms (assign), and a 404 otherwise."""
    row = model.objects.filter(pk=pk).first()
    if row is not None and row.swarm_id == swarm.id:
        return row
    if row is not None and conflict and Swarm.objects.visible_to(user).filter(pk=row.swarm_id).exists():
        raise Conflict(f"{label} {pk} belongs to another swarm ({row.swarm_id})")
    raise NotFound(f"{label} {pk} not found in swarm {swarm.id}")
