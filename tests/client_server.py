"""A real server for the client library and CLI tests: daphne in the embedded shape (worker threads
inside it, in-memory broker and channel layer, no Redis needed) on the test database and the fake
Claude; and a TCP proxy in front of it whose connections a test can cut, as a network would."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from tests.stack import Process, free_port, stack_env, start_web


@contextlib.contextmanager
def live_server(claude_url: str, **overrides: str) -> Iterator[str]:
    env = stack_env(redis_url="", claude_url=claude_url, EMBEDDED_WORKERS="true", **overrides)
    web, base = start_web(env)
    try:
        yield base
    finally:
        stop_and_report(web)


def stop_and_report(web: Process) -> None:
    web.stop()
    output = web.output()
    if "Traceback" in output:  # a server-side error shows in the test report
        print(output[-5000:])


class SeverableProxy:
    """Forwards 127.0.0.1:<port> to the server; `sever()` resets every open connection at once
    (new ones are still accepted), so a client sees its socket die mid-stream."""

    def __init__(self, target: str) -> None:
        host, port = target.split("://", 1)[1].rsplit(":", 1)
        self.target = (host, int(port))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self.connections += 1
                self._open += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def sever(self) -> int:
        """Resets every open connection (RST, no close frame); the number cut."""
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.close()
        return len(sockets) // 2

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.sever()


def events_of(swarm_id: str) -> list[dict[str, Any]]:
    """The swarm's events as stored (id, seq, type), oldest first."""
    from events.models import Event

    return list(Event.objects.filter(swarm_id=swarm_id).order_by("id").values("id", "seq", "type"))
