from __future__ import annotations

from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Probes, metrics and the worker command (`rundramatiq`); no models."""

    name = "ops"
    verbose_name = "Operations"
