"""OpenAPI description of the X-API-Key and JWT schemes (drf-spectacular finds them once imported)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "access.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class JwtScheme(SimpleJWTScheme):
    """access.auth.JwtAuthentication is simplejwt's scheme with failures counted: the same bearer JWT."""

    target_class = "access.auth.JwtAuthentication"
