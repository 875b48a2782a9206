"""The /ws consumer: auth, subscribe, replay from lastEventId, gap back-fill, commands, tenancy."""

from __future__ import annotations

import asyncio
import json
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from claudeflow_site.routing import websocket_application
from events import catalogue
from events import stream as events
from events.models import Event
from swarms.models import Swarm
from swarms.services import swarm_create, swarm_pause
from tests.conftest import OBJECTIVE, client_for

pytestmark = [pytest.mark.django_db(transaction=True)]
ORIGIN = [(b"origin", b"http://testserver")]


@pytest.fixture
def setup_data(alice, bob):
    swarm = swarm_create(owner=alice, objective=OBJECTIVE)
    Swarm.objects.filter(pk=swarm.id).update(status="executing")
    return {
        "swarm": swarm,
        "alice_key": client_for(alice).raw_key,
        "bob_key": client_for(bob).raw_key,
        "alice_read_key": client_for(alice, ("read",)).raw_key,
    }


async def connect(query: str = "", headers=ORIGIN) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(websocket_application(), f"/ws{query}", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def connected_as(key: str) -> WebsocketCommunicator:
    communicator = await connect(f"?api_key={key}")
    hello = await communicator.receive_json_from()
    assert hello["type"] == "connected" and hello["clientId"]
    return communicator


async def subscribe(communicator, swarm_id, **extra):
    await communicator.send_json_to({"type": "subscribe", "swarmId": swarm_id, **extra})


@database_sync_to_async
def publish(swarm_id: str, event_type: str, data: dict | None = None) -> Event:
    with transaction.atomic():
        return events.publish(swarm_id, catalogue.Built(event_type, data or {}))


async def receive_until(communicator, kind: str, timeout: float = 3) -> list[dict]:
    """Every message up to and including the first of type `kind`."""
    messages = []
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        messages.append(message)
        if message["type"] == kind:
            return messages


async def test_no_credentials_closes_with_4401(setup_data):
    communicator = await connect()
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_a_bad_key_closes_with_4401(setup_data):
    communicator = await connect("?api_key=cf_nope")
    assert (await communicator.receive_output())["code"] == 4401


async def test_api_key_in_a_header_works(setup_data):
    headers = [*ORIGIN, (b"x-api-key", setup_data["alice_key"].encode())]
    communicator = await connect(headers=headers)
    assert (await communicator.receive_json_from())["type"] == "connected"
    await communicator.disconnect()


async def test_jwt_in_the_query_works(setup_data, alice):
    from rest_framework_simplejwt.tokens import AccessToken

    token = await database_sync_to_async(lambda: str(AccessToken.for_user(alice)))()
    communicator = await connect(f"?token={token}")
    assert (await communicator.receive_json_from())["type"] == "connected"
    await communicator.disconnect()
    bad = await connect("?token=not.a.jwt")
    assert (await bad.receive_output())["code"] == 4401


async def test_the_browser_session_cookie_works(setup_data, alice, client):
    await database_sync_to_async(client.force_login)(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    communicator = await connect(headers=[*ORIGIN, (b"cookie", cookie)])
    assert (await communicator.receive_json_from())["type"] == "connected"
    await communicator.disconnect()


async def test_a_foreign_origin_is_refused(setup_data):
    communicator = WebsocketCommunicator(
        websocket_application(),
        f"/ws?api_key={setup_data['alice_key']}",
        headers=[(b"origin", b"https://evil.example")],
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_ws_disabled_refuses_connections(setup_data, settings):
    settings.WS_ENABLED = False
    communicator = WebsocketCommunicator(
        websocket_application(), f"/ws?api_key={setup_data['alice_key']}", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_live_events_reach_a_subscriber_in_the_spec_envelope(setup_data):
    swarm = setup_data["swarm"]
    communicator = await connected_as(setup_data["alice_key"])
    await subscribe(communicator, swarm.id)
    assert (await communicator.receive_json_from())["type"] == "subscribed"
    await database_sync_to_async(swarm_pause)(swarm_id=swarm.id)
    received = await receive_until(communicator, "swarm_event")
    event = received[-1]
    assert set(event) == {"type", "eventId", "seq", "swarmId", "eventType", "data", "timestamp"}
    assert (event["eventType"], event["swarmId"], event["data"]["status"]) == (
        "swarm.paused",
        swarm.id,
        "paused",
    )
    await communicator.disconnect()


async def test_subscribing_to_another_users_swarm_gets_an_error_and_no_events(setup_data):
    swarm = setup_data["swarm"]
    communicator = await connected_as(setup_data["bob_key"])
    await subscribe(communicator, swarm.id, lastEventId=0)
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == "not_found"
    await publish(swarm.id, "log", {"message": "secret"})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_subscribe_with_last_event_id_replays_in_order_then_goes_live(setup_data):
    swarm = setup_data["swarm"]
    for n in range(5):
        await publish(swarm.id, "log", {"n": n})
    ids = await database_sync_to_async(
        lambda: list(Event.objects.filter(swarm=swarm).values_list("id", flat=True))
    )()
    communicator = await connected_as(setup_data["alice_key"])
    await subscribe(communicator, swarm.id, lastEventId=ids[2])
    messages = await receive_until(communicator, "subscribed")
    assert [m["eventId"] for m in messages[:-1]] == ids[3:]
    await publish(swarm.id, "log", {"n": "live"})
    live = await communicator.receive_json_from()
    assert live["data"] == {"n": "live"} and live["seq"] == messages[-2]["seq"] + 1
    await communicator.disconnect()


async def test_dropped_messages_are_back_filled_in_order_without_duplicates(setup_data):
    swarm = setup_data["swarm"]
    communicator = await connected_as(setup_data["alice_key"])
    await subscribe(communicator, swarm.id)
    await communicator.receive_json_from()
    with mock.patch.object(events, "push_all"):  # the channel layer loses these two
        await publish(swarm.id, "log", {"n": 1})
        await publish(swarm.id, "log", {"n": 2})
    await publish(swarm.id, "log", {"n": 3})
    got = [await communicator.receive_json_from() for _ in range(3)]
    assert [m["data"]["n"] for m in got] == [1, 2, 3]
    assert [m["seq"] for m in got] == sorted({m["seq"] for m in got})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_a_trailing_dropped_message_is_caught_up_on_the_heartbeat(setup_data, settings):
    settings.WS_HEARTBEAT = 300
    swarm = setup_data["swarm"]
    communicator = await connected_as(setup_data["alice_key"])
    await subscribe(communicator, swarm.id)
    await communicator.receive_json_from()
    with mock.patch.object(events, "push_all"):
        await publish(swarm.id, "log", {"n": "lost"})
    messages = await receive_until(communicator, "swarm_event", timeout=2)
    assert messages[-1]["data"] == {"n": "lost"}
    await communicator.disconnect()


async def test_ping_bad_json_and_unknown_types_keep_the_socket_open(setup_data):
    communicator = await connected_as(setup_data["alice_key"])
    await communicator.send_to(text_data="{not json")
    assert (await communicator.receive_json_from())["code"] == "bad_json"
    await communicator.send_json_to({"type": "dance"})
    assert (await communicator.receive_json_from())["code"] == "unknown_type"
    await communicator.send_to(text_data=json.dumps([1, 2]))
    assert (await communicator.receive_json_from())["code"] == "bad_message"
    await communicator.send_json_to(
        {"type": "subscribe", "swarmId": setup_data["swarm"].id, "lastEventId": "x"}
    )
    assert (await communicator.receive_json_from())["code"] == "bad_message"
    await communicator.send_json_to({"type": "ping"})
    assert (await communicator.receive_json_from())["type"] == "pong"
    await communicator.disconnect()


async def test_commands_go_through_the_services(setup_data):
    swarm = setup_data["swarm"]
    communicator = await connected_as(setup_data["alice_key"])
    await communicator.send_json_to({"type": "command", "swarmId": swarm.id, "action": "pause"})
    result = await receive_until(communicator, "command_result")
    assert result[-1] == {
        "type": "command_result",
        "swarmId": swarm.id,
        "action": "pause",
        "status": "paused",
    }
    assert await database_sync_to_async(lambda: Swarm.objects.get(pk=swarm.id).status)() == "paused"
    await communicator.send_json_to({"type": "command", "swarmId": swarm.id, "action": "pause"})
    conflict = await receive_until(communicator, "error")
    assert conflict[-1]["code"] == "conflict" and "already paused" in conflict[-1]["message"]
    await communicator.send_json_to({"type": "command", "swarmId": swarm.id, "action": "explode"})
    assert (await receive_until(communicator, "error"))[-1]["code"] == "bad_message"
    await communicator.disconnect()


async def test_commands_respect_permissions_and_tenancy(setup_data):
    swarm = setup_data["swarm"]
    reader = await connected_as(setup_data["alice_read_key"])
    await reader.send_json_to({"type": "command", "swarmId": swarm.id, "action": "stop"})
    assert (await reader.receive_json_from())["code"] == "forbidden"
    outsider = await connected_as(setup_data["bob_key"])
    await outsider.send_json_to({"type": "command", "swarmId": swarm.id, "action": "stop"})
    assert (await outsider.receive_json_from())["code"] == "not_found"
    assert await database_sync_to_async(lambda: Swarm.objects.get(pk=swarm.id).status)() == "executing"
    await reader.disconnect()
    await outsider.disconnect()


async def test_unsubscribe_stops_the_events(setup_data):
    swarm = setup_data["swarm"]
    communicator = await connected_as(setup_data["alice_key"])
    await subscribe(communicator, swarm.id)
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "unsubscribe", "swarmId": swarm.id})
    assert (await communicator.receive_json_from())["type"] == "unsubscribed"
    await publish(swarm.id, "log", {})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_a_silent_client_is_closed_after_two_heartbeats(setup_data, settings):
    settings.WS_HEARTBEAT = 200
    communicator = await connected_as(setup_data["alice_key"])
    messages = []
    while True:
        output = await communicator.receive_output(timeout=3)
        messages.append(output)
        if output["type"] == "websocket.close":
            break
    assert messages[-1]["code"] == 4408
    assert any('"heartbeat"' in m.get("text", "") for m in messages)


async def test_connected_clients_are_counted(setup_data):
    from ops.health import connected_clients

    before = await database_sync_to_async(connected_clients)()
    communicator = await connected_as(setup_data["alice_key"])
    assert await database_sync_to_async(connected_clients)() == before + 1
    await communicator.disconnect()
    await asyncio.sleep(0.1)
    assert await database_sync_to_async(connected_clients)() == before


async def test_deleting_a_swarm_tells_its_subscribers(setup_data):
    from swarms.services import swarm_delete

    swarm = setup_data["swarm"]
    communicator = await connected_as(setup_data["alice_key"])
    await subscribe(communicator, swarm.id)
    await communicator.receive_json_from()
    await database_sync_to_async(swarm_delete)(swarm_id=swarm.id)
    messages = await receive_until(communicator, "swarm_deleted")
    assert messages[-1] == {"type": "swarm_deleted", "swarmId": swarm.id}
    await communicator.disconnect()


async def test_the_asgi_application_serves_ws(setup_data):
    from claudeflow_site.asgi import application

    communicator = WebsocketCommunicator(
        application, f"/ws?api_key={setup_data['alice_key']}", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert connected and (await communicator.receive_json_from())["type"] == "connected"
    await communicator.disconnect()
