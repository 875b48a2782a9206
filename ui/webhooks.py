"""Webhook pages: the user's webhooks with a create form (the secret shown once), and each
webhook's delivery log with enable/disable and delete. Another user's webhook is a 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from core.errors import ApplicationError, NotFound, ValidationFailed
from ui.forms import WebhookCreateForm
from webhooks import services
from webhooks.models import Webhook
from webhooks.selectors import access_webhook, delivery_log

NEW_SECRET_SESSION_KEY = "ui.new_webhook_secret"
PAGE_SIZE = 25


def owned_webhook(user: Any, webhook_id: str) -> Webhook:
    try:
        return access_webhook(user=user, webhook_id=webhook_id)
    except NotFound:
        raise Http404("Webhook not found") from None


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    form = WebhookCreateForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        data = form.validate_like_the_api()
        if data is not None:
            try:
                webhook, secret = services.webhook_create(
                    owner=request.user, **form.serializer_class.service_arguments(data)
                )
            except ValidationFailed as exc:  # an unsafe URL, an unknown event type, another's swarm
                form.add_service_errors(exc)
            except ApplicationError as exc:  # WEBHOOK_MAX_PER_USER
                form.add_error(None, exc.message)
            else:
                request.session[NEW_SECRET_SESSION_KEY] = {
                    "id": webhook.id,
                    "url": webhook.url,
                    "secret": secret,
                }
                return redirect("ui:webhooks")  # a reload must not create another
        status = 400
    context = {
        "form": form,
        "webhooks": Webhook.objects.for_owner(request.user),
        "new_secret": request.session.pop(NEW_SECRET_SESSION_KEY, None),  # shown once
    }
    return render(request, "ui/webhooks.html", context, status=status)


@login_required
@require_safe
def webhook_detail(request: HttpRequest, webhook_id: str) -> HttpResponse:
    webhook = owned_webhook(request.user, webhook_id)
    page = Paginator(delivery_log(webhook), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "webhook": webhook,
        "page": page,
        "new_secret": request.session.pop(NEW_SECRET_SESSION_KEY, None),  # after a rotation, shown once
    }
    return render(request, "ui/webhook.html", context)


@login_required
@require_POST
def webhook_toggle(request: HttpRequest, webhook_id: str) -> HttpResponse:
    webhook = owned_webhook(request.user, webhook_id)
    webhook = services.webhook_update(webhook_id=webhook.id, active=not webhook.active)
    messages.success(request, f"Webhook {'enabled' if webhook.active else 'disabled'}.")
    return redirect("ui:webhook", webhook_id=webhook.id)


@login_required
@require_POST
def webhook_delete(request: HttpRequest, webhook_id: str) -> HttpResponse:
    webhook = owned_webhook(request.user, webhook_id)
    services.webhook_delete(webhook_id=webhook.id)
    messages.success(request, f"Webhook to {webhook.url} deleted.")
    return redirect("ui:webhooks")


@login_required
@require_POST
def webhook_rotate_secret(request: HttpRequest, webhook_id: str) -> HttpResponse:
    webhook = owned_webhook(request.user, webhook_id)
    webhook, secret = services.webhook_rotate_secret(webhook_id=webhook.id)
    request.session[NEW_SECRET_SESSION_KEY] = {"id": webhook.id, "url": webhook.url, "secret": secret}
    return redirect("ui:webhook", webhook_id=webhook.id)
