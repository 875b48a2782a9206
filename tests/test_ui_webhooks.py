"""The webhook pages: create (the secret shown once), the same validation as the API, the delivery
log, enable/disable, delete, and another user's webhook is a 404."""

from __future__ import annotations

import pytest
from django.test import Client

from events import catalogue
from tests.builders import build_swarm
from tests.receiver import running_receiver
from tests.test_webhooks import announce
from webhooks import services
from webhooks.models import Webhook

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_RETRY_DELAY_MS = 0
    services.cache.invalidate()
    with running_receiver() as running:
        yield running


def test_a_new_webhook_shows_its_secret_once(alice, receiver):
    client = logged_in(alice)
    response = client.post(
        "/webhooks",
        {"url": receiver.url, "events": "swarm.*, task.completed", "description": "ci"},
        follow=True,
    )
    page = response.content.decode()
    webhook = Webhook.objects.get(owner=alice)
    assert webhook.event_types == ["swarm.*", "task.completed"] and webhook.description == "ci"
    assert webhook.secret in page and "shown only this once" in page
    assert webhook.secret not in client.get("/webhooks").content.decode()
    assert webhook.secret not in client.get(f"/webhooks/{webhook.id}").content.decode()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"url": "http://169.254.169.254/latest/", "events": "*"}, "cloud metadata address"),
        ({"url": "http://10.0.0.1/", "events": "*"}, "a private address"),
        ({"url": "ftp://example.com/", "events": "*"}, "Only http:// and https://"),
        ({"url": "https://example.com/", "events": "tasks.*"}, "Matches no event type"),
        ({"url": "https://example.com/", "events": " , "}, "at least 1"),
    ],
)
def test_the_form_refuses_what_the_api_refuses(alice, form, message, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = logged_in(alice).post("/webhooks", form)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Webhook.objects.exists()


def test_the_delivery_log_page(alice, receiver):
    receiver.answers = [500, 200]
    webhook, _ = services.webhook_create(owner=alice, url=receiver.url, event_types=["swarm.*"])
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    services.delivery_attempt(delivery_id=delivery_id)
    services.delivery_attempt(delivery_id=delivery_id)
    page = logged_in(alice).get(f"/webhooks/{webhook.id}").content.decode()
    assert "swarm.started" in page and "succeeded" in page
    assert "<strong>500</strong>" in page and "<strong>200</strong>" in page and "HTTP 500: nope" in page


def test_disable_enable_and_delete(alice, receiver):
    webhook, _ = services.webhook_create(owner=alice, url=receiver.url, event_types=["*"])
    client = logged_in(alice)
    client.post(f"/webhooks/{webhook.id}/toggle")
    assert Webhook.objects.get(pk=webhook.id).active is False
    client.post(f"/webhooks/{webhook.id}/toggle")
    assert Webhook.objects.get(pk=webhook.id).active is True
    assert client.get(f"/webhooks/{webhook.id}/toggle").status_code == 405
    client.post(f"/webhooks/{webhook.id}/delete")
    assert not Webhook.objects.exists()


def test_another_users_webhook_is_a_404(alice, bob, receiver):
    webhook, _ = services.webhook_create(owner=alice, url=receiver.url, event_types=["*"])
    client = logged_in(bob)
    assert receiver.url not in client.get("/webhooks").content.decode()
    for method, path in (
        ("get", f"/webhooks/{webhook.id}"),
        ("post", f"/webhooks/{webhook.id}/toggle"),
        ("post", f"/webhooks/{webhook.id}/delete"),
    ):
        assert getattr(client, method)(path).status_code == 404
    assert Webhook.objects.get(pk=webhook.id).active is True


def test_the_pages_need_a_login(client):
    assert client.get("/webhooks").status_code == 302


def test_rotating_the_secret_shows_the_new_one_once(alice, bob, receiver):
    webhook, old = services.webhook_create(owner=alice, url=receiver.url, event_types=["*"])
    assert logged_in(bob).post(f"/webhooks/{webhook.id}/rotate-secret").status_code == 404
    client = logged_in(alice)
    page = client.post(f"/webhooks/{webhook.id}/rotate-secret", follow=True).content.decode()
    webhook.refresh_from_db()
    assert webhook.secret != old and webhook.secret in page and "shown only this once" in page
    assert webhook.secret not in client.get(f"/webhooks/{webhook.id}").content.decode()
