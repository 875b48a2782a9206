"""/ws against real daphne processes (issue 9): a Redis outage (8), a crashed web process (8) and a
revocation that travels through Redis to another process (9). Each test runs its own Redis."""

from __future__ import annotations

import json
import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from access.services import apikey_create
from tests.helpers import wait_for
from tests.outage import private_redis
from tests.stack import http, stack_env, start_web

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
NO_CLAUDE = "http://127.0.0.1:9"  # these tests never call Claude


@pytest.fixture
def keys(alice):
    admin_key = apikey_create(owner=alice, name="admin", permissions=["read", "write", "admin"])[1]
    socket_key, socket_raw = apikey_create(owner=alice, name="socket", permissions=["read"])
    return {"admin": admin_key, "socket": socket_raw, "socket_id": socket_key.id}


def ws_url(base: str, key: str) -> str:
    return base.replace("http://", "ws://") + f"/ws?api_key={key}"


def open_socket(base: str, key: str) -> ClientConnection:
    socket = connect(ws_url(base, key), open_timeout=10)
    assert json.loads(socket.recv(timeout=10))["type"] == "connected"
    return socket


def close_code(socket: ClientConnection, timeout: float = 10) -> int:
    """Reads until the server closes the socket; its close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            socket.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 1006
    raise AssertionError(f"the socket stayed open for {timeout}s")


def attempt(base: str, key: str) -> int:
    try:
        socket = connect(ws_url(base, key), open_timeout=10)
    except InvalidStatus as refused:
        return refused.response.status_code
    with socket:
        return close_code(socket)


def connected_clients(base: str, key: str) -> int:
    return http("GET", f"{base}/api/system/stats", key)[1]["server"]["connectedClients"]


def test_a_redis_outage_refuses_websockets_with_1013_and_logs_it_once(keys):
    with private_redis() as redis_server:
        web, base = start_web(stack_env(redis_url=redis_server.url, claude_url=NO_CLAUDE))
        try:
            open_sockets = [open_socket(base, keys["socket"]) for _ in range(2)]
            redis_server.stop()
            assert [close_code(socket) for socket in open_sockets] == [1013, 1013]  # not 1011
            codes = [attempt(base, keys["socket"]) for _ in range(10)]
            assert codes == [1013] * 10
            log = web.output()
            assert "Traceback" not in log and "Exception inside application" not in log, log[-3000:]
            assert log.count("Channel layer unreachable") == 1, log[-3000:]
            redis_server.start()  # recovery: the same port, an empty Redis
            wait_for(lambda: attempt_connects(base, keys["socket"]), timeout=20)
            assert "Channel layer reachable again" in web.output()
        finally:
            web.stop()


def attempt_connects(base: str, key: str) -> bool:
    try:
        open_socket(base, key).close()
        return True
    except (ConnectionClosed, InvalidStatus, OSError):
        return False


def test_a_killed_web_process_drops_out_of_the_counts_and_the_per_user_cap(keys):
    with private_redis() as redis_server:
        env = stack_env(
            redis_url=redis_server.url,
            claude_url=NO_CLAUDE,
            WS_PRESENCE_TTL="2",
            WS_MAX_CONNECTIONS_PER_USER="4",
        )
        doomed, doomed_base = start_web(env)
        survivor, survivor_base = start_web(env)
        sockets = []
        try:
            sockets = [open_socket(doomed_base, keys["socket"]) for _ in range(3)]
            sockets.append(open_socket(survivor_base, keys["socket"]))
            wait_for(lambda: connected_clients(survivor_base, keys["admin"]) == 4, timeout=10)
            assert attempt(survivor_base, keys["socket"]) == 1008  # the cap counts both processes
            doomed.signal(signal.SIGKILL)  # a crash: no disconnect handler runs
            wait_for(lambda: connected_clients(survivor_base, keys["admin"]) == 1, timeout=15)
            sockets.append(
                open_socket(survivor_base, keys["socket"])
            )  # the crashed sockets freed their places
        finally:
            for socket in sockets:
                socket.close()
            doomed.stop()
            survivor.stop()


def test_revoking_a_key_on_one_web_process_closes_its_socket_on_another_with_4401(keys):
    with private_redis() as redis_server:
        env = stack_env(redis_url=redis_server.url, claude_url=NO_CLAUDE, WS_AUTH_RECHECK="60")
        holder, holder_base = start_web(env)
        revoker, revoker_base = start_web(env)
        try:
            socket = open_socket(holder_base, keys["socket"])
            status, _ = http("DELETE", f"{revoker_base}/api/keys/{keys['socket_id']}", keys["admin"])
            assert status == 200
            started = time.monotonic()
            assert close_code(socket, timeout=5) == 4401  # the push, not the 60 s periodic check
            assert time.monotonic() - started < 5
        finally:
            holder.stop()
            revoker.stop()
