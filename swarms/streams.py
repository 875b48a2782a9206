"""Reads for the WebSocket consumer (which never writes a model): access checks, re-checks and replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import constant_time_compare

from access.auth import EnvApiKey, authenticate_api_key, local_user, permissions_of
from access.models import ApiKey
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


@dataclass(frozen=True)
class Credential:
    """What a socket authenticated with, so it can be checked again while the socket is open."""

    kind: str  # "key" (stored API key), "env" (API_KEYS), "jwt", "session", "local"
    user_id: Any
    key_id: str | None = None
    token: str | None = field(default=None, repr=False)  # a JWT, validated again each time
    session_key: str | None = field(default=None, repr=False)

    def groups(self) -> list[str]:
        """Channel-layer groups that hear about this credential's revocation."""
        return [user_group(self.user_id)] + ([key_group(self.key_id)] if self.key_id else [])


def user_group(user_id: Any) -> str:
    return f"ws.user.{user_id}"


def key_group(key_id: str) -> str:
    return f"ws.key.{key_id}"


def authenticate(
    *, api_key: str | None, token: str | None, session_user: Any, session_key: str | None = None
) -> tuple[Any, tuple[str, ...], Credential] | None:
    """(user, permissions, credential) for a WebSocket: API key, JWT, the session, or the local user."""
    if api_key:
        found = authenticate_api_key(api_key)
        if not found:
            return None
        user, key = found
        kind, key_id = ("key", key.id) if isinstance(key, ApiKey) else ("env", None)
        return user, permissions_of(key), Credential(kind, user.pk, key_id=key_id)
    if token:
        return _jwt_user(token)
    if (
        session_user is not None
        and not isinstance(session_user, AnonymousUser)
        and session_user.is_authenticated
    ):
        credential = Credential("session", session_user.pk, session_key=session_key)
        return session_user, permissions_of(None), credential
    if not settings.AUTH_ENABLED:
        user = local_user()
        return user, permissions_of(None), Credential("local", user.pk)
    return None


def recheck(credential: Credential) -> tuple[str, ...] | None:
    """The credential's permissions now, or None when it was revoked, expired or its user deactivated."""
    if credential.kind == "jwt":
        found = _jwt_user(credential.token or "")
        return found[1] if found and found[0].pk == credential.user_id else None
    if credential.kind == "key":
        key = ApiKey.objects.usable().filter(pk=credential.key_id, owner__is_active=True).first()
        return permissions_of(key) if key else None
    if credential.kind == "local":
        return permissions_of(None)
    user = get_user_model().objects.filter(pk=credential.user_id, is_active=True).first()
    if user is None:
        return None
    if credential.kind == "session" and not _session_holds(credential.session_key, user):
        return None
    return permissions_of(EnvApiKey() if credential.kind == "env" else None)


def _session_holds(session_key: str | None, user: Any) -> bool:
    """The session still exists, for this user, and was not ended by a password change."""
    if not session_key:
        return False
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key).load()
    return str(data.get(SESSION_KEY)) == str(user.pk) and constant_time_compare(
        data.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()
    )


def _jwt_user(token: str) -> tuple[Any, tuple[str, ...], Credential] | None:
    """simplejwt's own checks: signature, expiry, an active user, and (CHECK_REVOKE_TOKEN) the password."""
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework_simplejwt.authentication import JWTAuthentication
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

    authentication = JWTAuthentication()
    try:
        user = authentication.get_user(authentication.get_validated_token(token.encode()))
    except (InvalidToken, TokenError, AuthenticationFailed):
        return None
    return user, permissions_of(None), Credential("jwt", user.pk, token=token)
