"""`client.swarms.stream` and `wait` against a real daphne: every event in order, resumed after a
socket cut by the network (a proxy resets it) with nothing lost or repeated, paged replays."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from claudeflow import AuthError, Client, NotFound, StreamOptions, WaitTimeout

from access.services import apikey_create
from tests.client_server import SeverableProxy, events_of, live_server
from tests.conftest import OBJECTIVE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("server_settled"),
]


def bounded(seconds: float = 60, **options: Any) -> StreamOptions:
    """Fast reconnects, and a deadline: a stream that lost its final event fails instead of hanging."""
    return StreamOptions(backoff=0.05, max_backoff=0.5, deadline=time.monotonic() + seconds, **options)


@pytest.fixture(scope="module")
def server(django_db_setup: None, fake_server: Any) -> Iterator[str]:
    # a replay of more than 5 events is paged (replay_truncated): every stream here pages; the
    # server closes a client silent for two 1-second heartbeats
    with live_server(fake_server.url, WS_REPLAY_MAX="5", WS_HEARTBEAT="1000") as base:
        yield base


@pytest.fixture
def key(alice: Any, fake_claude: Any) -> str:
    return apikey_create(owner=alice, name="stream", permissions=["read", "write"])[1]


@pytest.fixture
def proxy(server: str) -> Iterator[SeverableProxy]:
    proxy = SeverableProxy(server)
    yield proxy
    proxy.close()


def stored_ids_through(swarm_id: str, last_id: int) -> list[int]:
    return [row["id"] for row in events_of(swarm_id) if row["id"] <= last_id]


def test_the_stream_yields_every_event_in_order_and_ends_with_the_swarm(server: str, key: str) -> None:
    client = Client(server, api_key=key)
    swarm = client.swarms.run(OBJECTIVE, strategy="development", max_agents=2)
    events = list(client.swarms.stream(swarm.id, options=bounded()))
    assert events[0].event_type == "swarm.created" and events[-1].event_type == "swarm.completed"
    assert events[-1].terminal and not any(event.terminal for event in events[:-1])
    assert [e.event_id for e in events] == stored_ids_through(swarm.id, events[-1].event_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.swarm_id for e in events} == {swarm.id}
    assert any(e.event_type == "task.completed" and e.data["name"] for e in events)

    again = list(
        client.swarms.stream(swarm.id, options=bounded())
    )  # a finished swarm: its history, paged by 5
    assert [e.event_id for e in again] == [e.event_id for e in events] and len(again) > 5

    middle = events[len(events) // 2].event_id
    resumed = list(client.swarms.stream(swarm.id, last_event_id=middle, options=bounded()))
    assert [e.event_id for e in resumed] == [e.event_id for e in events if e.event_id > middle]


def test_a_socket_cut_mid_stream_loses_and_repeats_nothing(
    proxy: SeverableProxy, key: str, fake_claude: Any
) -> None:
    fake_claude.configure(latency_ms=150, chunk_delay_ms=5)  # a run of a few seconds, cut while it runs
    client = Client(proxy.base, api_key=key)
    swarm = client.swarms.run(OBJECTIVE, strategy="development", max_agents=3)
    timers = [threading.Timer(delay, proxy.sever) for delay in (1.0, 2.2, 3.5)]  # cut at random moments too
    for timer in timers:
        timer.start()
    events, cuts = [], 0
    for event in client.swarms.stream(swarm.id, options=bounded()):
        events.append(event)
        if len(events) in (3, 12):
            cuts += proxy.sever()  # cut with events still in flight
    for timer in timers:
        timer.cancel()

    assert cuts >= 2 and proxy.connections >= 3, "the socket was never cut"
    ids = [event.event_id for event in events]
    assert events[-1].event_type == "swarm.completed"
    assert ids == stored_ids_through(swarm.id, ids[-1])  # every stored event, once, in order
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_wait_returns_the_final_swarm_and_survives_cut_sockets(
    proxy: SeverableProxy, key: str, fake_claude: Any
) -> None:
    fake_claude.configure(latency_ms=100)
    client = Client(proxy.base, api_key=key)
    swarm = client.swarms.run(OBJECTIVE, strategy="development", max_agents=2)
    timers = [threading.Timer(delay, proxy.sever) for delay in (0.5, 1.5)]
    for timer in timers:
        timer.start()
    final = client.swarms.wait(swarm.id, timeout=60)
    assert final.status == "completed" and final.progress.completed_tasks == final.progress.total_tasks
    assert client.swarms.wait(swarm.id, timeout=1).status == "completed"  # already finished: at once


def test_wait_times_out_on_a_swarm_that_does_not_finish(server: str, key: str) -> None:
    client = Client(server, api_key=key)
    swarm = client.swarms.create(OBJECTIVE, strategy="microservices")  # never started
    with pytest.raises(WaitTimeout):
        client.swarms.wait(swarm.id, timeout=1.5)
    with pytest.raises(TimeoutError):  # WaitTimeout is a TimeoutError
        client.swarms.wait(swarm.id, timeout=0.5)


def test_streaming_someone_elses_swarm_or_with_a_bad_key_raises(server: str, key: str, bob: Any) -> None:
    bob_key = apikey_create(owner=bob, name="bob", permissions=["read", "write"])[1]
    bobs = Client(server, api_key=bob_key).swarms.create(OBJECTIVE)
    with pytest.raises(NotFound):
        next(iter(Client(server, api_key=key).swarms.stream(bobs.id)))
    with pytest.raises(AuthError):
        next(iter(Client(server, api_key="cf_bad").swarms.stream(bobs.id)))


def test_a_server_that_is_gone_ends_the_stream_after_the_reconnect_limit(key: str) -> None:
    from claudeflow import StreamError

    from tests.stack import free_port

    client = Client(f"http://127.0.0.1:{free_port()}", api_key=key)
    options = StreamOptions(max_reconnects=2, backoff=0.01, max_backoff=0.02, open_timeout=1)
    with pytest.raises(StreamError, match="3 times in a row"):
        next(iter(client.swarms.stream("swarm_x", options=options)))


def test_a_quiet_stream_stays_on_one_socket(server: str, proxy: SeverableProxy, key: str) -> None:
    """Nothing happens for 4 s (four heartbeats): the client answers the server's heartbeats, so the
    server never closes it as silent and the stop arrives on the first socket."""
    direct = Client(server, api_key=key)
    swarm = direct.swarms.create(OBJECTIVE, strategy="microservices")  # ready, never started
    threading.Timer(4.0, direct.swarms.stop, args=(swarm.id,)).start()
    proxied = Client(proxy.base, api_key=key)  # only the stream goes through the proxy
    events = list(proxied.swarms.stream(swarm.id, options=bounded(30, ping_interval=60)))
    assert events[-1].event_type == "swarm.stopped"
    assert proxy.connections == 1


async def test_the_async_stream_also_resumes_across_cut_sockets(
    proxy: SeverableProxy, key: str, fake_claude: Any
) -> None:
    from asgiref.sync import sync_to_async
    from claudeflow import AsyncClient

    fake_claude.configure(latency_ms=150, chunk_delay_ms=5)
    async with AsyncClient(proxy.base, api_key=key) as client:
        swarm = await client.swarms.run(OBJECTIVE, strategy="development", max_agents=2)
        events, cuts = [], 0
        async for event in client.swarms.stream(swarm.id, options=bounded()):
            events.append(event)
            if len(events) in (3, 10):
                cuts += proxy.sever()
    assert cuts >= 2 and events[-1].event_type == "swarm.completed"
    ids = [event.event_id for event in events]
    assert ids == await sync_to_async(stored_ids_through)(swarm.id, ids[-1])
