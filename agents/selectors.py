"""Reads of agent types: the catalogue a swarm's owner may use (the global types and their own)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db.models import F, Q, QuerySet, Subquery
from django.db.models.functions import JSONObject

from agents.models import AgentType
from agents.registry import AgentSpec

SPEC_COLUMNS = (
    "name",
    "owner_id",
    "capabilities",
    "system_prompt",
    "tools",
    "description",
    "model",
    "max_turns",
)


def agent_types_visible(user: Any) -> QuerySet[AgentType]:
    """Built-ins first, then the user's own, each by name."""
    return AgentType.objects.visible_to(user).order_by(F("owner_id").asc(nulls_first=True), "name")


def agent_types_for(owner_id: int | None) -> dict[str, AgentSpec]:
    """Name → spec of every type a swarm of this owner may use. A global name wins over an own
    type of the same name (the API refuses such names; a later built-in may still add one)."""
    # built-ins in the registry's order (the order they were first written), then the owner's
    rows = AgentType.objects.for_owner_id(owner_id).order_by(F("owner_id").asc(nulls_first=True), "id")
    catalogue: dict[str, AgentSpec] = {}
    for row in rows:
        catalogue.setdefault(row.name, row.spec())
    return catalogue


def agent_type_for(name: str, owner_id: int | None, *, lock: bool = False) -> AgentSpec | None:
    """The spec an agent of this type in a swarm of this owner runs with (see agent_types_named)."""
    return agent_types_named([name], owner_id, lock=lock).get(name)


def agent_types_named(
    names: Iterable[str], owner_id: int | None, *, lock: bool = False
) -> dict[str, AgentSpec]:
    """Name → spec of those of `names` a swarm of this owner may use (one query; a global name wins
    over an own type of the same name). `lock` (inside a transaction) holds the user's own types
    until commit, so that a delete waits for the agents being spawned and then sees them in use;
    built-ins, which cannot be deleted, are not locked."""
    rows = AgentType.objects.for_owner_id(owner_id).filter(name__in=set(names))
    chosen: dict[str, AgentType] = {}
    for row in rows.order_by(F("owner_id").asc(nulls_first=True), "id"):
        chosen.setdefault(row.name, row)
    own = [row.pk for row in chosen.values() if row.owner_id is not None]
    if lock and own:
        kept = set(AgentType.objects.select_for_update().filter(pk__in=own).values_list("pk", flat=True))
        chosen = {name: row for name, row in chosen.items() if row.owner_id is None or row.pk in kept}
    return {name: row.spec() for name, row in chosen.items()}


def agent_type_row(owner_id: Any, name: Any) -> Subquery:
    """The row agent_type_for() reads, as one JSON value a query can select beside its own columns
    (owner_id and name are usually OuterRefs): the claim of a task reads its agent's type so."""
    rows = AgentType.objects.filter(Q(owner__isnull=True) | Q(owner_id=owner_id), name=name)
    first = rows.order_by(F("owner_id").asc(nulls_first=True)).values(
        row=JSONObject(**{c: c for c in SPEC_COLUMNS})
    )
    return Subquery(first[:1])


def agent_type_from_row(row: dict[str, Any] | str | None) -> AgentSpec | None:
    """The spec of a row agent_type_row() selected (None: no such type)."""
    if row is None:
        return None
    if isinstance(row, str):  # a database that hands the JSON value back as text
        row = json.loads(row)
    values = {
        name: json.loads(value) if name in ("capabilities", "tools") and isinstance(value, str) else value
        for name, value in row.items()
    }
    return AgentType(**values).spec()
