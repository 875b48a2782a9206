"""python manage.py createapikey --user NAME [--name N] [--permissions read,write] [--expires-in-days D]

Prints the new key alone on the last line, so scripts can take it with `tail -n 1`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from access.models import ApiKey
from access.services import apikey_create


class Command(BaseCommand):
    help = "Create an API key for a user and print it (it is shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="username of the key's owner")
        parser.add_argument("--name", default="cli", help="a label for the key")
        parser.add_argument("--permissions", default="read,write", help="comma list of read, write, admin")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"user {options['user']!r} does not exist (create it with createsuperuser)")
        permissions = [p.strip() for p in options["permissions"].split(",") if p.strip()]
        unknown = sorted(set(permissions) - set(ApiKey.Permission.values))
        if not permissions or unknown:
            raise CommandError(
                f"--permissions must be a comma list of read, write, admin; got {options['permissions']!r}"
            )
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        expires = timezone.now() + timedelta(days=days) if days else None
        key, raw = apikey_create(
            owner=user, name=options["name"], permissions=permissions, expires_at=expires
        )
        self.stdout.write(f"Created API key {key.id} ({', '.join(key.permissions)}) for {user.username}:")
        self.stdout.write(raw)
