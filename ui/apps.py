from __future__ import annotations

from django.apps import AppConfig


class UiConfig(AppConfig):
    """The browser UI; no models. Its templates are in the project's templates/ui/."""

    name = "ui"
    verbose_name = "Browser UI"
