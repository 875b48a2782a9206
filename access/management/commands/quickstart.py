"""python manage.py quickstart — first-run setup for the README's run command.

Creates the `admin` superuser once (printing its generated password) and a fresh `quickstart`
API key on every run (revoking the previous one), and prints how to use them.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from access.models import ApiKey
from access.services import apikey_create

KEY_NAME = "quickstart"


class Command(BaseCommand):
    help = "Create the admin user (once) and a fresh API key, and print them."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        username = os.environ.get("ADMIN_USERNAME", "admin")
        admin = users.filter(username=username).first()
        if admin is None:
            password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            admin = users.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"Created superuser {username!r} with password: {password}")
        else:
            self.stdout.write(
                f"Superuser {username!r} exists (reset its password: python manage.py changepassword {username})"
            )
        ApiKey.objects.filter(owner=admin, name=KEY_NAME, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        key, raw = apikey_create(owner=admin, name=KEY_NAME, permissions=["read", "write", "admin"])
        base = f"http://{settings.HOST}:{settings.PORT}"
        self.stdout.write(f"Browser UI: {base}/   admin: {base}/admin/   API docs: {base}/api/docs")
        self.stdout.write(f'Try: curl -H "X-API-Key: {raw}" {base}/api/swarms')
        self.stdout.write(f"API key (read, write, admin) for {username}:")
        self.stdout.write(raw)
