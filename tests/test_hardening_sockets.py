"""/ws hardening (issue 9): bounded input and limits (16), revocation that reaches open sockets (9),
Redis outages and web crashes (8, against real daphne processes in tests/test_hardening_sockets_stack.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.utils import timezone

from access.models import ApiKey
from access.services import apikey_revoke
from claudeflow_site.routing import websocket_application
from events import catalogue
from events import stream as events
from events.models import Event
from swarms.models import Swarm
from swarms.services import swarm_create
from tests.conftest import OBJECTIVE, client_for

pytestmark = [pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://testserver")]


@pytest.fixture
def swarm(alice):
    created = swarm_create(owner=alice, objective=OBJECTIVE)
    Swarm.objects.filter(pk=created.id).update(status="executing")
    return created


@pytest.fixture
def alice_key(alice):
    return client_for(alice).raw_key


async def open_socket(query: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(websocket_application(), f"/ws{query}", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def connected_as(key: str) -> WebsocketCommunicator:
    communicator = await open_socket(f"?api_key={key}")
    assert (await communicator.receive_json_from())["type"] == "connected"
    return communicator


async def next_of(communicator, kind: str, timeout: float = 3) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == kind:
            return message


async def closed_with(communicator, timeout: float = 5) -> int:
    """The close code, skipping the text frames sent before it."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code", 1000)


async def still_open(communicator) -> None:
    await communicator.send_json_to({"type": "ping"})
    assert (await next_of(communicator, "pong"))["type"] == "pong"


@database_sync_to_async
def publish(swarm_id: str, count: int) -> list[int]:
    ids = []
    for n in range(count):
        with transaction.atomic():
            events.publish(swarm_id, catalogue.Built("log", {"n": n}))
        ids.append(Event.objects.filter(swarm_id=swarm_id).latest("id").id)
    return ids


# --- 16. malformed frames, caps, message rate, bounded replay --------------------------------------

ERROR_CODES = {"bad_json", "bad_message", "unknown_type", "too_large"}
MALFORMED = {
    "unhashable type": '{"type": []}',
    "nested 100k deep": "[" * 100_000 + "]" * 100_000,
    "list swarm id on unsubscribe": '{"type": "unsubscribe", "swarmId": [1]}',
    "object swarm id on command": '{"type": "command", "swarmId": {"a": 1}, "action": "pause"}',
    "NUL in swarm id": '{"type": "subscribe", "swarmId": "swarm_\\u0000x"}',
    "lastEventId beyond 2^63": '{"type": "subscribe", "swarmId": "swarm_x", "lastEventId": 9223372036854775808}',
    "boolean lastEventId": '{"type": "subscribe", "swarmId": "swarm_x", "lastEventId": true}',
    "huge swarm id": json.dumps({"type": "subscribe", "swarmId": "s" * 5000}),
    "oversized frame": json.dumps({"type": "ping", "pad": "x" * 200_000}),
}


@pytest.mark.parametrize("frame", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_frame_gets_an_error_frame_and_the_socket_stays_open(alice_key, frame):
    communicator = await connected_as(alice_key)
    await communicator.send_to(text_data=frame)
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] in ERROR_CODES, error
    await still_open(communicator)
    await communicator.disconnect()


async def test_a_binary_frame_gets_an_error_frame(alice_key):
    communicator = await connected_as(alice_key)
    await communicator.send_to(bytes_data=b"\x00\xff")
    assert (await communicator.receive_json_from())["type"] == "error"
    await still_open(communicator)
    await communicator.disconnect()


async def test_a_user_gets_at_most_WS_MAX_CONNECTIONS_PER_USER_sockets(alice, bob, alice_key, settings):
    settings.WS_MAX_CONNECTIONS_PER_USER = 2
    first, second = await connected_as(alice_key), await connected_as(alice_key)
    third = await open_socket(f"?api_key={alice_key}")
    error = await third.receive_json_from()
    assert error["type"] == "error" and error["code"] == "too_many_connections"
    assert await closed_with(third) == 1008
    bobs = await connected_as(await database_sync_to_async(lambda: client_for(bob).raw_key)())
    await first.disconnect()
    await asyncio.sleep(0.1)
    again = await connected_as(alice_key)  # a closed socket frees its place
    for communicator in (second, bobs, again):
        await communicator.disconnect()


async def test_subscriptions_per_socket_are_capped_at_WS_MAX_SUBSCRIPTIONS(alice, alice_key, settings):
    settings.WS_MAX_SUBSCRIPTIONS = 2
    swarms = await database_sync_to_async(
        lambda: [swarm_create(owner=alice, objective=OBJECTIVE).id for _ in range(3)]
    )()
    communicator = await connected_as(alice_key)
    for swarm_id in swarms[:2]:
        await communicator.send_json_to({"type": "subscribe", "swarmId": swarm_id})
        assert (await communicator.receive_json_from())["type"] == "subscribed"
    await communicator.send_json_to({"type": "subscribe", "swarmId": swarms[2]})
    error = await communicator.receive_json_from()
    assert (error["type"], error["code"], error["swarmId"]) == ("error", "too_many_subscriptions", swarms[2])
    await communicator.send_json_to({"type": "subscribe", "swarmId": swarms[0]})  # again: no new place
    assert (await communicator.receive_json_from())["type"] == "subscribed"
    await communicator.disconnect()


async def test_a_message_flood_gets_an_error_frame_then_a_1008_close(alice_key, settings):
    settings.WS_MESSAGE_RATE = "5/10s"
    communicator = await connected_as(alice_key)
    for _ in range(5):
        await communicator.send_json_to({"type": "ping"})
        assert (await communicator.receive_json_from())["type"] == "pong"
    await communicator.send_json_to({"type": "ping"})
    error = await communicator.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "rate_limited")
    for _ in range(10):
        await communicator.send_json_to({"type": "ping"})
    assert await closed_with(communicator) == 1008


async def test_replay_is_bounded_by_WS_REPLAY_MAX_and_pages_by_resubscribing(swarm, alice_key, settings):
    settings.WS_REPLAY_MAX = 3
    await publish(swarm.id, 8)
    ids = await database_sync_to_async(
        lambda: list(Event.objects.filter(swarm=swarm).order_by("id").values_list("id", flat=True))
    )()
    assert len(ids) > 2 * 3
    communicator = await connected_as(alice_key)
    got, after = [], 0
    while True:
        await communicator.send_json_to({"type": "subscribe", "swarmId": swarm.id, "lastEventId": after})
        page = []
        while True:
            message = await communicator.receive_json_from()
            if message["type"] == "swarm_event":
                page.append(message["eventId"])
                continue
            break
        assert len(page) <= 3
        got += page
        if message["type"] == "subscribed":
            break
        assert message["type"] == "replay_truncated" and message["lastEventId"] == page[-1]
        after = message["lastEventId"]
    assert got == ids
    live = (await publish(swarm.id, 1))[0]
    assert (await communicator.receive_json_from())["eventId"] == live
    await communicator.disconnect()


# --- 9. revocation reaches open sockets; every command re-checks the credential --------------------


async def test_revoking_a_key_closes_its_socket_with_4401_at_once(swarm, alice, settings):
    settings.WS_AUTH_RECHECK = 60  # only the push can do it within the test's 5 s
    key, raw = await database_sync_to_async(_key_of)(alice)
    communicator = await connected_as(raw)
    await communicator.send_json_to({"type": "subscribe", "swarmId": swarm.id})
    assert (await communicator.receive_json_from())["type"] == "subscribed"
    await database_sync_to_async(apikey_revoke)(key_id=key.id)
    assert await closed_with(communicator, timeout=5) == 4401


async def test_deactivating_a_user_closes_their_sockets_with_4401(alice, alice_key, settings):
    settings.WS_AUTH_RECHECK = 60
    communicator = await connected_as(alice_key)

    def deactivate():
        alice.is_active = False
        alice.save()

    await database_sync_to_async(deactivate)()
    assert await closed_with(communicator, timeout=5) == 4401


async def test_logging_out_closes_the_browser_sessions_socket_with_4401(alice, client, settings):
    settings.WS_AUTH_RECHECK = 0.5
    await database_sync_to_async(client.force_login)(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(
        websocket_application(), "/ws", headers=[*ORIGIN, (b"cookie", cookie)]
    )
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from())["type"] == "connected"
    await database_sync_to_async(client.logout)()
    assert await closed_with(communicator, timeout=5) == 4401


async def test_a_revocation_that_sends_no_signal_is_noticed_by_the_periodic_check(alice, settings):
    settings.WS_AUTH_RECHECK = 1
    key, raw = await database_sync_to_async(_key_of)(alice)
    communicator = await connected_as(raw)
    await database_sync_to_async(lambda: ApiKey.objects.filter(pk=key.id).update(revoked_at=timezone.now()))()
    assert await closed_with(communicator, timeout=5) == 4401


async def test_an_expired_jwt_closes_the_socket_with_4401(alice, settings):
    from rest_framework_simplejwt.tokens import AccessToken

    settings.WS_AUTH_RECHECK = 0.5

    def short_token():
        token = AccessToken.for_user(alice)
        token.set_exp(lifetime=timedelta(seconds=2))
        return str(token)

    communicator = await open_socket(f"?token={await database_sync_to_async(short_token)()}")
    assert (await communicator.receive_json_from())["type"] == "connected"
    assert await closed_with(communicator, timeout=6) == 4401


async def test_a_password_change_closes_the_sockets_of_its_jwts_with_4401(alice, settings, monkeypatch):
    from rest_framework_simplejwt import authentication, tokens
    from rest_framework_simplejwt.tokens import AccessToken

    settings.WS_AUTH_RECHECK = 60  # the push on the user's change does it
    for module in (authentication, tokens):  # CHECK_REVOKE_TOKEN: tokens die with the password
        monkeypatch.setattr(module.api_settings, "CHECK_REVOKE_TOKEN", True)
    token = await database_sync_to_async(lambda: str(AccessToken.for_user(alice)))()
    communicator = await open_socket(f"?token={token}")
    assert (await communicator.receive_json_from())["type"] == "connected"

    def change_password():
        alice.set_password("a-new-password-9")
        alice.save()

    await database_sync_to_async(change_password)()
    assert await closed_with(communicator, timeout=5) == 4401


async def test_a_command_after_a_silent_revocation_is_refused_and_closes_4401(swarm, alice, settings):
    settings.WS_AUTH_RECHECK = 60
    key, raw = await database_sync_to_async(_key_of)(alice)
    communicator = await connected_as(raw)
    await database_sync_to_async(lambda: ApiKey.objects.filter(pk=key.id).update(revoked_at=timezone.now()))()
    await communicator.send_json_to({"type": "command", "swarmId": swarm.id, "action": "stop"})
    assert await closed_with(communicator) == 4401
    assert await database_sync_to_async(lambda: Swarm.objects.get(pk=swarm.id).status)() == "executing"


async def test_a_key_narrowed_to_read_can_no_longer_command_or_a_write_key_subscribe(swarm, alice, settings):
    settings.WS_AUTH_RECHECK = 60
    key, raw = await database_sync_to_async(_key_of)(alice)
    communicator = await connected_as(raw)
    await database_sync_to_async(lambda: ApiKey.objects.filter(pk=key.id).update(permissions=["read"]))()
    await communicator.send_json_to({"type": "command", "swarmId": swarm.id, "action": "stop"})
    assert (await communicator.receive_json_from())["code"] == "forbidden"
    await database_sync_to_async(lambda: ApiKey.objects.filter(pk=key.id).update(permissions=["write"]))()
    await communicator.send_json_to({"type": "subscribe", "swarmId": swarm.id})
    assert (await communicator.receive_json_from())["code"] == "forbidden"
    assert await database_sync_to_async(lambda: Swarm.objects.get(pk=swarm.id).status)() == "executing"
    await communicator.disconnect()


def _key_of(user):
    from access.services import apikey_create

    return apikey_create(owner=user, name="ws", permissions=["read", "write"])


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WS_MAX_CONNECTIONS_PER_USER", "0", "WS_MAX_CONNECTIONS_PER_USER must be at least 1"),
        ("WS_MAX_SUBSCRIPTIONS", "many", "WS_MAX_SUBSCRIPTIONS must be an integer"),
        ("WS_MESSAGE_RATE", "60 per 10s", "WS_MESSAGE_RATE must look like"),
        ("WS_REPLAY_MAX", "0", "WS_REPLAY_MAX must be at least 1"),
        ("WS_AUTH_RECHECK", "120", "WS_AUTH_RECHECK must be at most 60"),
        ("WS_PRESENCE_TTL", "1", "WS_PRESENCE_TTL must be at least 2"),
    ],
)
@pytest.mark.django_db(transaction=False)
def test_a_bad_websocket_limit_stops_start_up_with_one_line(variable, value, message):
    from tests.test_config import test_a_bad_value_stops_start_up_with_one_line as starts_up_with

    starts_up_with(variable, value, message)
