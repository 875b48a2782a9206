"""python manage.py quickstart — first-run setup for the README's run command.

Creates the `admin` superuser once (printing its generated password) and keeps ONE development API
key: the raw key is kept in `var/dev_api_key` (readable by its owner only) and printed on every run.
A new key is made only when that file is missing or its key no longer works (revoked, expired,
deleted), and the run says so; no other key is touched.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from access.auth import why_refused
from access.models import ApiKey, hash_key
from access.services import apikey_create

KEY_NAME = "quickstart"
KEY_FILE_NAME = "dev_api_key"


def key_file() -> Path:
    return Path(settings.VAR_DIR) / KEY_FILE_NAME


class Command(BaseCommand):
    help = "Create the admin user (once) and the development API key (once), and print them."

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
        raw = self.development_key(admin)
        base = f"http://{settings.HOST}:{settings.PORT}"
        self.stdout.write(f"Browser UI: {base}/   admin: {base}/admin/   API docs: {base}/api/docs")
        self.stdout.write(f'Try: curl -H "X-API-Key: {raw}" {base}/api/swarms')
        self.stdout.write(f"API key (read, write, admin) for {username}, kept in {key_file()}:")
        self.stdout.write(raw)

    def development_key(self, admin: Any) -> str:
        """The key stored in var/dev_api_key if it still works for `admin`, else a new one (stored)."""
        path = key_file()
        raw = path.read_text().strip() if path.is_file() else ""
        if raw:
            key = ApiKey.objects.usable().filter(key_hash=hash_key(raw)).first()
            if key is not None and key.owner_id == admin.pk and key.owner.is_active:
                return raw
            if key is not None and key.owner_id != admin.pk:
                why = f"it belongs to {key.owner.get_username()!r}"
            else:
                why = why_refused(raw)
            self.stdout.write(f"The development key in {path} no longer works ({why}); making a new one")
        key, raw = apikey_create(owner=admin, name=KEY_NAME, permissions=["read", "write", "admin"])
        path.parent.mkdir(parents=True, exist_ok=True)
        # written readable by the owner only: it is a full-permission credential
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(raw + "\n")
        os.chmod(path, 0o600)
        return raw
