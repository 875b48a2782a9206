"""Tells open WebSockets at once when their credential may have stopped holding.

Receivers rather than a call in each service: a key is revoked from the API, the UI and the admin, and
a user is deactivated or deleted from the admin or the shell. The message only asks the sockets to
check their credential again (`streams.recheck`), which each also does every `WS_AUTH_RECHECK`
seconds, so a lost message costs seconds, not a revocation.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from access.models import ApiKey
from events.stream import notify
from swarms.streams import key_group, user_group

RECHECK = {"type": "access.recheck"}


def _recheck_after_commit(group: str) -> None:
    transaction.on_commit(lambda: notify(group, RECHECK))


def _key_changed(sender: Any, instance: ApiKey, **kwargs: Any) -> None:
    _recheck_after_commit(key_group(instance.pk))  # revoked, narrowed or deleted: keys change rarely


def _user_changed(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login, which happens often and takes nothing away
    _recheck_after_commit(user_group(instance.pk))


def connect() -> None:
    post_save.connect(_key_changed, sender=ApiKey, dispatch_uid="ws-revocation-key-saved")
    post_delete.connect(_key_changed, sender=ApiKey, dispatch_uid="ws-revocation-key-deleted")
    user_model = get_user_model()
    post_save.connect(_user_changed, sender=user_model, dispatch_uid="ws-revocation-user-saved")
    post_delete.connect(_user_changed, sender=user_model, dispatch_uid="ws-revocation-user-deleted")
