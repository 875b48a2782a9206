"""Who is calling: API keys (database or `API_KEYS`), JWT, the browser session, or the local user.

`request.auth` is the ApiKey (or EnvApiKey) when a key was used, so permissions can be checked;
JWT, session and local-user callers hold every permission of their user.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import authentication, permissions
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication

from access.models import ApiKey, hash_key
from access.ratelimits import refuse_failed_authentication
from core import prepared

ALL_PERMISSIONS = ("read", "write", "admin")
# the code of an AuthenticationFailed whose message says why a key was refused (core.errors renders
# it); not imported from core.errors, which DRF's settings import while loading this module
CREDENTIALS_REFUSED = "credentials_refused"


@dataclass(frozen=True)
class EnvApiKey:
    """A key from the API_KEYS variable: acts as the service account with every permission."""

    id: str = "env"
    permissions: tuple[str, ...] = field(default=ALL_PERMISSIONS)

    def allows(self, permission: str) -> bool:
        return permission in self.permissions


def service_user() -> Any:
    user, _ = get_user_model().objects.get_or_create(username=settings.SERVICE_USERNAME)
    return user


def local_user() -> Any:
    user, _ = get_user_model().objects.get_or_create(username=settings.LOCAL_USERNAME)
    return user


def authenticate_api_key(raw_key: str) -> tuple[Any, ApiKey | EnvApiKey] | None:
    """The (user, key) a raw key stands for, or None; counts the use of a stored key."""
    for env_key in settings.API_KEYS:
        if hmac.compare_digest(raw_key.encode(), env_key.encode()):
            return service_user(), EnvApiKey()
    now = timezone.now()
    key = next(iter(_BY_HASH.read(key_hash=hash_key(raw_key))), None)
    if key is None or not key.is_active or not key.owner.is_active:  # the key's own rule: usable()
        return None
    prepared.update(ApiKey, where={"pk": key.pk}, values={"last_used_at": now}, add={"usage_count": 1})
    return key.owner, key


# every request with a key reads it: compiled once (Django would rebuild the join each time); the
# hash is unique, and whether the key may be used (not revoked, not expired) is the row's is_active
_BY_HASH = prepared.Prepared(
    lambda key, key_hash: ApiKey.objects.select_related("owner").filter(key_hash=key_hash)[:1],
    key_hash=str,
)


def why_refused(raw_key: str) -> str:
    """Why a key is refused, for its holder: the key itself is proof enough to learn its state."""
    key = ApiKey.objects.select_related("owner").filter(key_hash=hash_key(raw_key)).first()
    if key is None:
        return (
            "Unknown API key: no key has this value (check it was copied whole; keys start with cf_ "
            "and are 67 characters long)"
        )
    if key.revoked_at is not None:
        return f"This API key ({key.prefix}…) was revoked at {key.revoked_at.isoformat(timespec='seconds')}"
    if key.expires_at is not None and key.expires_at <= timezone.now():
        return f"This API key ({key.prefix}…) expired at {key.expires_at.isoformat(timespec='seconds')}"
    return f"This API key ({key.prefix}…) belongs to a deactivated account"


def permissions_of(auth: Any) -> tuple[str, ...]:
    if isinstance(auth, ApiKey | EnvApiKey):
        return tuple(auth.permissions)
    return ALL_PERMISSIONS


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw_key = request.META.get("HTTP_X_API_KEY")
        if raw_key is None:
            return None
        result = authenticate_api_key(raw_key.strip())
        if result is None:
            refuse_failed_authentication(request)
            raise AuthenticationFailed(why_refused(raw_key.strip()), code=CREDENTIALS_REFUSED)
        return result

    def authenticate_header(self, request: Request) -> str:
        return 'ApiKey header="X-API-Key"'


class JwtAuthentication(JWTAuthentication):
    """simplejwt's bearer tokens; a bad token counts against the client's IP like a bad key."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            refuse_failed_authentication(request)
            raise


class LocalUserAuthentication(authentication.BaseAuthentication):
    """AUTH_ENABLED=false: a request with no credentials acts as the one local user."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        if settings.AUTH_ENABLED:
            return None
        return local_user(), None


class Authenticated(permissions.IsAuthenticated):
    """DRF's IsAuthenticated, and a request without credentials counts against its IP like a bad key
    (DRF refuses it before any throttle runs): past the general limit it is a 429, not another 401."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if super().has_permission(request, view):
            return True
        refuse_failed_authentication(request)
        return False


class KeyPermission(permissions.BasePermission):
    """A `read` key may only read; views may also demand a permission with `required_permission`."""

    message = "This API key does not have the permission this request needs"

    def has_permission(self, request: Request, view: Any) -> bool:
        granted = permissions_of(request.auth)
        needed = getattr(view, "required_permission", None)
        if needed is None:
            needed = "read" if request.method in permissions.SAFE_METHODS else "write"
        if needed not in granted:
            self.message = f"This API key lacks the '{needed}' permission"
            return False
        return True
