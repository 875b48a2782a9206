"""Reads for the WebSocket consumer (which never writes a model): access checks and replay."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from access.auth import authenticate_api_key, local_user, permissions_of
from events.models import Event, Stream
from events.stream import envelope
from swarms.models import Swarm

REPLAY_BATCH = 500


def visible_swarm(user: Any, swarm_id: str) -> Swarm | None:
    return Swarm.objects.visible_to(user).filter(pk=swarm_id).only("id").first()


def current_seq(swarm_id: str) -> int:
    return Stream.objects.filter(swarm_id=swarm_id).values_list("last_seq", flat=True).first() or 0


def events_after_id(swarm_id: str, after_id: int, limit: int = REPLAY_BATCH) -> list[dict[str, Any]]:
    rows = Event.objects.filter(swarm_id=swarm_id, id__gt=after_id).order_by("id")[:limit]
    return [envelope(event) for event in rows]


def events_between_seq(swarm_id: str, after_seq: int, before_seq: int | None = None) -> list[dict[str, Any]]:
    """The events of a gap (after_seq < seq < before_seq), or everything after after_seq."""
    rows = Event.objects.filter(swarm_id=swarm_id, seq__gt=after_seq)
    if before_seq is not None:
        rows = rows.filter(seq__lt=before_seq)
    return [envelope(event) for event in rows.order_by("seq")[:REPLAY_BATCH]]


def authenticate(
    *, api_key: str | None, token: str | None, session_user: Any
) -> tuple[Any, tuple[str, ...]] | None:
    """(user, permissions) for a WebSocket: API key, JWT, the session cookie, or the local user."""
    if api_key:
        found = authenticate_api_key(api_key)
        return (found[0], permissions_of(found[1])) if found else None
    if token:
        return _jwt_user(token)
    if (
        session_user is not None
        and not isinstance(session_user, AnonymousUser)
        and session_user.is_authenticated
    ):
        return session_user, permissions_of(None)
    if not settings.AUTH_ENABLED:
        return local_user(), permissions_of(None)
    return None


def _jwt_user(token: str) -> tuple[Any, tuple[str, ...]] | None:
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
    from rest_framework_simplejwt.tokens import AccessToken

    try:
        payload = AccessToken(token)
    except (InvalidToken, TokenError):
        return None
    user = get_user_model().objects.filter(pk=payload.get("user_id"), is_active=True).first()
    return (user, permissions_of(None)) if user else None
