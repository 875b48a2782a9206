from __future__ import annotations

from django.apps import AppConfig


class SwarmsConfig(AppConfig):
    name = "swarms"
    default_auto_field = "django.db.models.BigAutoField"
