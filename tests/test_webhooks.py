"""Webhooks: the API (owner-scoped, secret shown once), signed deliveries to a real local receiver,
retries, timeouts, final failure, auto-disable with a system.alert, and the SSRF guard."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import transaction

from events import catalogue
from events.models import Event
from events.stream import publish
from swarms.services import swarm_delete
from tests.builders import build_swarm
from tests.helpers import admin_url, wait_for
from tests.receiver import running_receiver, verify
from webhooks import services, transport
from webhooks.models import Delivery, Webhook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_routes():
    services.cache.invalidate()
    services.cache._owners.clear()
    yield
    services.cache.invalidate()


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


@pytest.fixture
def private_ok(settings):
    """A receiver on 127.0.0.1 is a private address: allowed here, as in development."""
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_RETRY_DELAY_MS = 0
    return settings


def create(client, url, events=("*",), **extra):
    return client.post("/api/webhooks", {"url": url, "events": list(events), **extra}, format="json")


def announce(swarm, *built):
    """Publishes catalogue events in a transaction; the ids of the deliveries written with them."""
    with transaction.atomic():
        for event in built:
            publish(swarm.id, event)
    written = list(Event.objects.filter(swarm=swarm).order_by("-id")[: len(built)])
    ids = [event.id for event in written]
    return list(Delivery.objects.filter(event_id__in=ids).order_by("id").values_list("id", flat=True))


def attempt_all(delivery_ids):
    return [services.delivery_attempt(delivery_id=i) for i in delivery_ids]


# --- API -----------------------------------------------------------------------------------------


def test_the_secret_is_shown_once_on_create(client_of_alice, private_ok, receiver):
    response = create(client_of_alice, receiver.url, ["task.*", "swarm.completed"], description="ci")
    assert response.status_code == 201
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert "only once" in body["message"]
    assert body["data"]["events"] == ["task.*", "swarm.completed"] and body["data"]["active"] is True
    webhook_id = body["data"]["id"]
    for path in ("/api/webhooks", f"/api/webhooks/{webhook_id}", f"/api/webhooks/{webhook_id}/deliveries"):
        text = client_of_alice.get(path).content.decode()
        assert secret not in text and "secret" not in text
    second = create(client_of_alice, receiver.url).json()["secret"]
    assert second != secret  # a fresh secret per webhook


def test_list_get_patch_delete(client_of_alice, private_ok, receiver):
    webhook_id = create(client_of_alice, receiver.url, ["swarm.*"]).json()["data"]["id"]
    listed = client_of_alice.get("/api/webhooks").json()
    assert listed["count"] == 1 and listed["webhooks"][0]["id"] == webhook_id
    off = client_of_alice.patch(f"/api/webhooks/{webhook_id}", {"active": False}, format="json").json()[
        "data"
    ]
    assert off["active"] is False and off["disabledReason"] == "disabled by its owner"
    Webhook.objects.filter(pk=webhook_id).update(consecutive_failures=4)
    on = client_of_alice.patch(
        f"/api/webhooks/{webhook_id}", {"active": True, "events": ["task.completed"]}, format="json"
    ).json()["data"]
    assert on["active"] is True and on["consecutiveFailures"] == 0 and on["events"] == ["task.completed"]
    assert client_of_alice.patch(f"/api/webhooks/{webhook_id}", {}, format="json").status_code == 400
    assert (
        client_of_alice.patch(f"/api/webhooks/{webhook_id}", {"active": "no"}, format="json").status_code
        == 400
    )
    deleted = client_of_alice.delete(f"/api/webhooks/{webhook_id}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    assert client_of_alice.get(f"/api/webhooks/{webhook_id}").status_code == 404
    assert not Webhook.objects.exists()


def test_another_users_webhook_is_not_found(client_of_alice, client_of_bob, private_ok, receiver, bob):
    webhook_id = create(client_of_alice, receiver.url).json()["data"]["id"]
    assert client_of_bob.get("/api/webhooks").json()["count"] == 0
    for method, path, body in (
        ("get", f"/api/webhooks/{webhook_id}", None),
        ("get", f"/api/webhooks/{webhook_id}/deliveries", None),
        ("patch", f"/api/webhooks/{webhook_id}", {"active": False}),
        ("delete", f"/api/webhooks/{webhook_id}", None),
    ):
        response = getattr(client_of_bob, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
    assert Webhook.objects.get(pk=webhook_id).active is True
    # nor can a webhook follow another user's swarm
    swarm_of_bob = build_swarm(bob)
    refused = create(client_of_alice, receiver.url, swarmId=swarm_of_bob.id)
    assert refused.status_code == 400 and refused.json()["details"][0]["field"] == "swarmId"


def test_events_of_another_users_swarm_are_not_delivered(client_of_alice, private_ok, receiver, alice, bob):
    create(client_of_alice, receiver.url)
    assert announce(build_swarm(bob), catalogue.swarm_started()) == []
    assert len(announce(build_swarm(alice), catalogue.swarm_started())) == 1


def test_a_read_only_key_cannot_create_webhooks(read_only_client_of_alice, private_ok, receiver):
    assert create(read_only_client_of_alice, receiver.url).status_code == 403
    assert read_only_client_of_alice.get("/api/webhooks").status_code == 200


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "at least 1"),
        (["tasks.*"], "Matches no event type"),
        (["swarm.finished"], "Matches no event type"),
        (["Task.Completed"], "lower case"),
        (["task.[a-z]*"], "lower case"),
    ],
)
def test_event_types_are_checked_against_the_catalogue(
    client_of_alice, private_ok, receiver, events, message
):
    response = create(client_of_alice, receiver.url, events)
    assert response.status_code == 400
    assert message.lower() in json.dumps(response.json()["details"]).lower()


def test_globs_select_the_events_delivered(client_of_alice, private_ok, receiver, alice):
    swarm = build_swarm(alice, tasks=[{"name": "One"}])
    task = swarm.tasks.get()
    create(client_of_alice, receiver.url, ["task.*", "swarm.completed"])
    ids = announce(
        swarm,
        catalogue.swarm_started(),
        catalogue.task_started(task, worker="w"),
        catalogue.task_completed(task),
        catalogue.swarm_completed(),
        catalogue.agent_status_changed(agent_id="a", status="busy"),
    )
    types = list(Delivery.objects.filter(pk__in=ids).order_by("id").values_list("event_type", flat=True))
    assert types == ["task.started", "task.completed", "swarm.completed"]


def test_a_swarm_filter_limits_deliveries_to_that_swarm(client_of_alice, private_ok, receiver, alice):
    followed, other = build_swarm(alice), build_swarm(alice)
    create(client_of_alice, receiver.url, ["swarm.*"], swarmId=followed.id)
    assert announce(other, catalogue.swarm_started()) == []
    assert len(announce(followed, catalogue.swarm_started())) == 1


def test_webhooks_per_user_are_limited(client_of_alice, private_ok, receiver, settings):
    settings.WEBHOOK_MAX_PER_USER = 2
    assert create(client_of_alice, receiver.url).status_code == 201
    assert create(client_of_alice, receiver.url).status_code == 201
    refused = create(client_of_alice, receiver.url)
    assert refused.status_code == 409 and "WEBHOOK_MAX_PER_USER" in refused.json()["message"]


# --- delivery --------------------------------------------------------------------------------------


def test_a_delivery_is_the_signed_event_envelope(client_of_alice, private_ok, receiver, alice):
    secret = create(client_of_alice, receiver.url, ["swarm.started"]).json()["secret"]
    swarm = build_swarm(alice)
    (delivery_id,) = announce(swarm, catalogue.swarm_started())
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    assert attempt.status_code == 200 and attempt.number == 1
    (received,) = receiver.requests
    event = Event.objects.get(swarm=swarm, type="swarm.started")
    assert received.json() == {
        "type": "swarm_event",
        "eventId": event.id,
        "seq": event.seq,
        "swarmId": swarm.id,
        "eventType": "swarm.started",
        "data": {"status": "executing"},
        "timestamp": event.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert received.headers["webhook-id"] == str(event.id)
    assert received.headers["content-type"] == "application/json"
    assert verify(secret, received)
    # a changed body, id or secret does not verify
    tampered = type(received)(
        received.path, received.headers, received.body.replace(b"executing", b"completed")
    )
    assert not verify(secret, tampered)
    assert not verify(create(client_of_alice, receiver.url).json()["secret"], received)
    assert Delivery.objects.get(pk=delivery_id).status == "succeeded"
    assert services.delivery_attempt(delivery_id=delivery_id) is None  # done: never sent twice


def test_a_failed_attempt_is_retried_and_the_log_shows_both(
    workers, client_of_alice, private_ok, receiver, alice
):
    private_ok.WEBHOOK_RETRY_DELAY_MS = 50
    receiver.answers = [500, 200]
    created = create(client_of_alice, receiver.url, ["swarm.started"]).json()
    swarm = build_swarm(alice)
    with transaction.atomic():  # committed: the fan-out runs after commit, the workers deliver
        publish(swarm.id, catalogue.swarm_started())
    delivery = wait_for(
        lambda: Delivery.objects.filter(status="succeeded").first(),
        timeout=15,
        message="the retried delivery",
    )
    assert delivery.attempts == 2 and len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert all(verify(created["secret"], r) for r in receiver.requests)
    log = client_of_alice.get(f"/api/webhooks/{created['data']['id']}/deliveries").json()
    (entry,) = log["deliveries"]
    assert entry["status"] == "succeeded" and entry["eventType"] == "swarm.started" and entry["attempts"] == 2
    assert [(a["attempt"], a["statusCode"], a["ok"]) for a in entry["attemptLog"]] == [
        (1, 500, False),
        (2, 200, True),
    ]
    assert entry["attemptLog"][0]["error"].startswith("HTTP 500") and entry["attemptLog"][0]["latencyMs"] >= 0


def test_a_slow_receiver_times_out(client_of_alice, private_ok, receiver, alice, settings):
    settings.WEBHOOK_TIMEOUT = 0.5
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answers = [("sleep", 2, 200)]
    create(client_of_alice, receiver.url)
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    assert attempt.status_code is None and "timed out after 0.5 s" in attempt.error
    assert 400 <= attempt.latency_ms < 1900
    assert Delivery.objects.get(pk=delivery_id).status == "pending"  # one more attempt to come


def test_a_delivery_fails_after_the_last_attempt(client_of_alice, private_ok, receiver, alice, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answers = [503]
    create(client_of_alice, receiver.url)
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    attempts = attempt_all([delivery_id] * 4)
    assert [a.number for a in attempts[:3]] == [1, 2, 3] and attempts[3] is None
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == "failed" and delivery.attempts == 3 and delivery.last_status_code == 503
    assert delivery.finished_at is not None and len(receiver.requests) == 3
    assert Webhook.objects.get().consecutive_failures == 1


def test_retry_delays_grow_and_are_capped(settings):
    settings.WEBHOOK_RETRY_DELAY_MS = 1000
    settings.WEBHOOK_MAX_RETRY_DELAY_MS = 20_000
    assert [services.retry_delay_ms(n) for n in (1, 2, 3, 4)] == [1000, 4000, 16000, 20000]


def test_an_endpoint_that_keeps_failing_is_disabled_with_a_system_alert(
    client_of_alice, private_ok, receiver, alice, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_DISABLE_AFTER = 2
    receiver.answers = [500]
    webhook_id = create(client_of_alice, receiver.url).json()["data"]["id"]
    swarm = build_swarm(alice)
    first, second, third = announce(
        swarm, catalogue.swarm_started(), catalogue.swarm_paused(), catalogue.swarm_resumed()
    )
    services.delivery_attempt(delivery_id=first)
    assert Webhook.objects.get(pk=webhook_id).active is True
    services.delivery_attempt(delivery_id=second)
    webhook = Webhook.objects.get(pk=webhook_id)
    assert webhook.active is False and "2 deliveries in a row failed" in webhook.disabled_reason
    alert = Event.objects.get(swarm=swarm, type="system.alert")
    assert alert.data["type"] == "webhook" and alert.data["webhookId"] == webhook_id
    assert (
        alert.data["level"] == "error"
        and "2 deliveries in a row failed (last: HTTP 500" in alert.data["message"]
    )
    # what was still queued is cancelled, not sent
    assert services.delivery_attempt(delivery_id=third) is None
    assert Delivery.objects.get(pk=third).status == "cancelled" and len(receiver.requests) == 2
    # the alert itself is not delivered to the disabled webhook
    assert announce(swarm, catalogue.swarm_started()) == []
    shown = client_of_alice.get(f"/api/webhooks/{webhook_id}").json()["data"]
    assert shown["active"] is False and shown["consecutiveFailures"] == 2


def test_a_success_resets_the_failure_count(client_of_alice, private_ok, receiver, alice, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_DISABLE_AFTER = 2
    receiver.answers = [500, 200, 500]
    create(client_of_alice, receiver.url)
    attempt_all(announce(build_swarm(alice), *[catalogue.swarm_started()] * 3))
    webhook = Webhook.objects.get()
    assert webhook.active is True and webhook.consecutive_failures == 1


def test_a_lost_message_is_resent_by_housekeeping(client_of_alice, private_ok, receiver, alice):
    create(client_of_alice, receiver.url)
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    assert services.resend_due() == 0  # just enqueued: its message is on its way
    from datetime import timedelta

    from django.utils import timezone

    Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    assert services.resend_due() == 1


# --- SSRF guard ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://10.0.0.1/hook", "private"),
        ("http://192.168.1.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://localhost:9/hook", "loopback"),  # a host name that resolves to loopback
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.0.1/", "not a public address"),
        ("ftp://example.com/hook", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("http:///nohost", "no host"),
        ("http://example.com:99999/", "Not a valid URL"),
        ("http://does-not-exist.invalid/", "does not resolve"),
    ],
)
def test_unsafe_urls_are_refused_at_create(client_of_alice, url, reason):
    response = create(client_of_alice, url)
    assert response.status_code == 400, response.json()
    (detail,) = response.json()["details"]
    assert detail["field"] == "url" and reason in detail["message"]
    assert not Webhook.objects.exists()


def test_public_addresses_pass_the_guard():
    assert transport.refusal("93.184.216.34") is None
    assert transport.refusal("2606:4700:4700::1111") is None
    target = transport.resolve("https://93.184.216.34:8443/in?x=1")
    assert (target.addresses, target.port, target.path, target.host_header) == (
        ("93.184.216.34",),
        8443,
        "/in?x=1",
        "93.184.216.34:8443",
    )


def test_a_url_is_checked_again_at_delivery(client_of_alice, private_ok, receiver, alice, settings):
    create(client_of_alice, receiver.url)  # allowed when it was created
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    assert (
        attempt.status_code is None and attempt.error.startswith("refused:") and "loopback" in attempt.error
    )
    assert receiver.requests == []
    assert Delivery.objects.get(pk=delivery_id).status == "failed"


def test_a_redirect_is_not_followed(client_of_alice, private_ok, receiver, alice, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answers = [("redirect", "http://169.254.169.254/latest/meta-data/"), 200]
    create(client_of_alice, receiver.url)
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    assert attempt.status_code == 302 and "not followed" in attempt.error
    assert len(receiver.requests) == 1
    assert Delivery.objects.get(pk=delivery_id).status == "failed"


def test_the_request_goes_to_the_checked_address_with_the_original_host(
    private_ok, receiver, alice, client_of_alice
):
    port = receiver.url.split(":")[2].split("/")[0]
    secret = create(client_of_alice, f"http://localhost:{port}/hook?via=name").json()["secret"]
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    assert services.delivery_attempt(delivery_id=delivery_id).status_code == 200
    (received,) = receiver.requests
    assert received.headers["host"] == f"localhost:{port}" and received.path == "/hook?via=name"
    assert verify(secret, received)


# --- admin -----------------------------------------------------------------------------------------


def test_the_admin_lists_webhooks_and_a_read_only_delivery_log(
    client, django_user_model, client_of_alice, private_ok, receiver, alice
):
    secret = create(client_of_alice, receiver.url).json()["secret"]
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    services.delivery_attempt(delivery_id=delivery_id)
    client.force_login(django_user_model.objects.create_superuser("root", "", "pw"))
    for path in ("/admin/webhooks/webhook/?q=a", "/admin/webhooks/delivery/?q=a"):
        assert client.get(path).status_code == 200
    webhook = Webhook.objects.get()
    page = client.get(admin_url(webhook)).content.decode()
    assert receiver.url in page and secret not in page
    delivery_page = client.get(f"/admin/webhooks/delivery/{delivery_id}/change/").content.decode()
    assert "swarm.started" in delivery_page and "200" in delivery_page
    assert 'name="_save"' not in delivery_page  # read-only


def test_the_delivery_log_does_not_query_per_delivery(
    client_of_alice, private_ok, receiver, alice, django_assert_max_num_queries
):
    swarm = build_swarm(alice)  # before the webhook: its own events get no delivery
    webhook_id = create(client_of_alice, receiver.url).json()["data"]["id"]
    attempt_all(announce(swarm, *[catalogue.swarm_started()] * 6))
    with django_assert_max_num_queries(6):  # credentials, the webhook, the count, the page, its attempts
        log = client_of_alice.get(f"/api/webhooks/{webhook_id}/deliveries?limit=5").json()
    assert log["count"] == 6 and len(log["deliveries"]) == 5
    assert all(len(d["attemptLog"]) == 1 for d in log["deliveries"])
    failed_only = client_of_alice.get(f"/api/webhooks/{webhook_id}/deliveries?status=failed").json()
    assert failed_only["count"] == 0
    assert client_of_alice.get(f"/api/webhooks/{webhook_id}/deliveries?status=lost").status_code == 400


def test_a_closed_port_is_a_failed_attempt(client_of_alice, private_ok, alice, settings):
    from tests.stack import free_port

    settings.WEBHOOK_MAX_ATTEMPTS = 1
    create(client_of_alice, f"http://127.0.0.1:{free_port()}/hook")
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    assert attempt.status_code is None and attempt.error.startswith("request failed:")
    assert Delivery.objects.get(pk=delivery_id).status == "failed"


def test_credentials_in_a_url_are_sent_as_basic_auth_and_kept_out_of_alerts(private_ok, receiver, alice):
    url = receiver.url.replace("http://", "http://hook-user:s3cret@")
    services.webhook_create(owner=alice, url=url, event_types=["*"])
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    services.delivery_attempt(delivery_id=delivery_id)
    assert (
        receiver.requests[0].headers["authorization"]
        == "Basic " + base64.b64encode(b"hook-user:s3cret").decode()
    )
    assert transport.redacted(url) == receiver.url.replace("http://", "http://***@")


def self_signed(tmp_path, name: str):
    """A certificate for `name` and its key, as PEM files."""
    from datetime import datetime, timedelta

    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_https_connects_to_the_checked_address_with_the_host_name_for_sni_and_the_certificate(
    client_of_alice, private_ok, alice, tmp_path, monkeypatch
):
    import ssl

    cert_file, key_file = self_signed(tmp_path, "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    with running_receiver(tls=context, host="localhost") as receiver:
        secret = create(client_of_alice, receiver.url).json()["secret"]
        swarm = build_swarm(alice)
        first, second = announce(swarm, catalogue.swarm_started(), catalogue.swarm_paused())
        # not trusted yet: the certificate is checked
        refused = services.delivery_attempt(delivery_id=first)
        assert refused.status_code is None and "CERTIFICATE_VERIFY_FAILED" in refused.error
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # now it is (OpenSSL's default trust store)
        attempt = services.delivery_attempt(delivery_id=second)
        assert attempt.status_code == 200, attempt.error
        assert names[-1] == "localhost"  # SNI is the URL's name, though the socket went to 127.0.0.1
        assert receiver.requests[-1].headers["host"] == receiver.url.split("/")[2]
        assert verify(secret, receiver.requests[-1])


def test_the_host_is_resolved_once_so_rebinding_cannot_reach_a_private_address(
    client_of_alice, receiver, alice, settings, monkeypatch
):
    """A DNS answer that is public at the check and loopback at connect time (rebinding)."""
    import socket

    real = socket.getaddrinfo
    port = int(receiver.url.split(":")[2].split("/")[0])
    answers = iter(["93.184.216.34", "93.184.216.34", "127.0.0.1", "127.0.0.1"])
    asked = []

    def rebinding(host, *args, **kwargs):
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    settings.WEBHOOK_TIMEOUT = 0.5
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    create(client_of_alice, f"http://rebind.example:{port}/hook")  # checked: public
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    attempt = services.delivery_attempt(delivery_id=delivery_id)
    # checked at create and at delivery; the connection went to the checked address, not to a
    # third answer (which would have reached the receiver on 127.0.0.1)
    assert asked == ["rebind.example", "rebind.example"]
    assert attempt.status_code is None and receiver.requests == []


def test_a_webhook_deleted_during_an_attempt_leaves_nothing_behind(
    client_of_alice, private_ok, receiver, alice, monkeypatch
):
    webhook_id = create(client_of_alice, receiver.url).json()["data"]["id"]
    (delivery_id,) = announce(build_swarm(alice), catalogue.swarm_started())
    real_post = transport.post

    def deleted_meanwhile(*args, **kwargs):  # the owner deletes it while the request is out
        answer = real_post(*args, **kwargs)
        services.webhook_delete(webhook_id=webhook_id)
        return answer

    monkeypatch.setattr(transport, "post", deleted_meanwhile)
    assert services.delivery_attempt(delivery_id=delivery_id) is None
    assert len(receiver.requests) == 1 and not Delivery.objects.exists()


def test_a_410_gone_disables_the_webhook_at_once(client_of_alice, private_ok, receiver, alice, settings):
    receiver.answers = [410]
    webhook_id = create(client_of_alice, receiver.url).json()["data"]["id"]
    swarm = build_swarm(alice)
    (delivery_id,) = announce(swarm, catalogue.swarm_started())
    assert services.delivery_attempt(delivery_id=delivery_id).status_code == 410
    assert services.delivery_attempt(delivery_id=delivery_id) is None  # not retried
    assert Delivery.objects.get(pk=delivery_id).status == "failed" and len(receiver.requests) == 1
    webhook = Webhook.objects.get(pk=webhook_id)
    assert webhook.active is False and webhook.disabled_reason == "the endpoint answered 410 Gone"
    assert "410 Gone" in Event.objects.get(swarm=swarm, type="system.alert").data["message"]


@pytest.mark.django_db(transaction=True)
def test_a_webhook_is_disabled_even_when_the_swarm_of_its_last_failure_is_gone(
    client_of_alice, private_ok, receiver, alice, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_DISABLE_AFTER = 1
    receiver.answers = [500]
    webhook_id = create(client_of_alice, receiver.url).json()["data"]["id"]
    swarm = build_swarm(alice)
    with transaction.atomic():  # the delivery is written with the event
        publish(swarm.id, catalogue.swarm_started())
    delivery_id = Delivery.objects.get(event_type="swarm.started").id
    swarm_delete(swarm_id=swarm.id)  # the delivery keeps its payload and is still sent
    assert services.delivery_attempt(delivery_id=delivery_id).status_code == 500
    assert Webhook.objects.get(pk=webhook_id).active is False
    assert not Event.objects.filter(type="system.alert").exists()


def test_with_no_webhooks_an_event_costs_no_query(alice, django_assert_num_queries):
    swarm = build_swarm(alice)
    with transaction.atomic():
        publish(swarm.id, catalogue.swarm_started())
    written = list(Event.objects.filter(swarm=swarm, type="swarm.started"))
    services.cache.invalidate()
    with django_assert_num_queries(1):  # the active webhooks, read once per WEBHOOK_CACHE_SECONDS
        assert services.deliveries_write(written) == []
    with django_assert_num_queries(0):
        assert services.deliveries_write(written) == []


def test_check_deploy_warns_when_the_guard_is_lifted(settings):
    from claudeflow_site.checks import check_webhook_networks

    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert check_webhook_networks() == []
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    (warning,) = check_webhook_networks()
    assert warning.id == "claudeflow.W001" and "server-side request forgery" in warning.msg


def test_a_rotated_secret_signs_alongside_the_old_one_for_a_grace_period(
    client_of_alice, client_of_bob, private_ok, receiver, alice, settings
):
    from datetime import timedelta

    from django.utils import timezone

    created = create(client_of_alice, receiver.url).json()
    old, webhook_id = created["secret"], created["data"]["id"]
    assert client_of_bob.post(f"/api/webhooks/{webhook_id}/rotate-secret").status_code == 404
    rotated = client_of_alice.post(f"/api/webhooks/{webhook_id}/rotate-secret")
    assert rotated.status_code == 200 and "shown only once" in rotated.json()["message"]
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert new not in client_of_alice.get(f"/api/webhooks/{webhook_id}").content.decode()
    first, second = announce(build_swarm(alice), catalogue.swarm_started(), catalogue.swarm_paused())
    services.delivery_attempt(delivery_id=first)
    during = receiver.requests[-1]
    assert len(during.headers["webhook-signature"].split()) == 2
    assert verify(new, during) and verify(old, during)  # receivers switch at their own pace
    Webhook.objects.filter(pk=webhook_id).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    services.delivery_attempt(delivery_id=second)
    after = receiver.requests[-1]
    assert verify(new, after) and not verify(old, after)


# --- the outbox: deliveries commit with their events ---------------------------------------------


def test_deliveries_commit_and_roll_back_with_their_events(client_of_alice, private_ok, receiver, alice):
    create(client_of_alice, receiver.url)
    swarm = build_swarm(alice)
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(swarm.id, catalogue.swarm_started())
        assert Delivery.objects.filter(event_type="swarm.started").count() == 1  # written with the event
        raise RuntimeError("the state change fails after its events were written")
    assert not Delivery.objects.filter(event_type="swarm.started").exists()
    assert not Event.objects.filter(swarm=swarm, type="swarm.started").exists()


def test_a_delivery_whose_message_died_with_the_process_is_sent_by_the_housekeeping(
    client_of_alice, private_ok, receiver, alice, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from core import jobs

    create(client_of_alice, receiver.url)
    swarm = build_swarm(alice)
    with django_capture_on_commit_callbacks(execute=False):  # the process dies as it commits
        (delivery_id,) = announce(swarm, catalogue.swarm_started())
    sent = []
    monkeypatch.setattr(jobs, "send", lambda actor, *args, **kwargs: sent.append((actor, args)))
    assert services.resend_due() == 0  # not due yet: its own message may still be on its way
    Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now() - timedelta(minutes=2))
    assert services.resend_due() == 1
    assert sent == [("deliver_webhook", (delivery_id,))]
    assert services.delivery_attempt(delivery_id=delivery_id).status_code == 200
    assert Delivery.objects.get(pk=delivery_id).status == "succeeded"


def test_a_webhook_deleted_behind_the_cache_neither_gets_a_delivery_nor_undoes_the_state_change(
    client_of_alice, private_ok, receiver, alice
):
    gone = create(client_of_alice, receiver.url).json()["data"]["id"]
    kept = create(client_of_alice, receiver.url).json()["data"]["id"]
    swarm = build_swarm(alice)
    assert {route.webhook_id for route in services.cache.routes()} == {gone, kept}
    Webhook.objects.filter(pk=gone).delete()  # as another process would: this one's cache still has it
    with transaction.atomic():
        publish(swarm.id, catalogue.swarm_started())
    assert Event.objects.filter(swarm=swarm, type="swarm.started").exists()
    assert list(Delivery.objects.filter(event_type="swarm.started").values_list("webhook_id", flat=True)) == [
        kept
    ]
    assert {route.webhook_id for route in services.cache.routes()} == {kept}  # re-read
