"""HTTP plumbing of the fake: routing, body reading, JSON/SSE writers and the control endpoints.

The decisions (which error, which reply) are made by ``FakeClaude``; this module only puts them on
the wire in the exact framing the ``anthropic`` SDK expects.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from fakeclaude.replies import ErrorReply, Plan, input_tokens, sse_events

logger = logging.getLogger(__name__)

# The real API rejects bodies above 32 MB; refusing them unread keeps a runaway client cheap.
MAX_BODY_BYTES = 32 * 1024 * 1024


class Decider(Protocol):
    """What the handler asks of the fake (fakeclaude.server.FakeClaude): this module only puts its
    decisions on the wire, so it imports nothing of the server's."""

    verbose: bool

    @property
    def requests(self) -> list[dict[str, Any]]: ...
    def open_record(self, body: Any) -> dict[str, Any]: ...
    def plan(self, body: Any, record: dict[str, Any], problem: ErrorReply | None) -> Plan: ...
    def current_hang_event(self) -> threading.Event: ...
    def hang_wait(self, event: threading.Event) -> None: ...
    def pause(self, milliseconds: int) -> bool: ...
    def health(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def configure(
        self, latency_ms: int | None = None, chunk_delay_ms: int | None = None
    ) -> dict[str, int]: ...
    def enqueue(self, reply: dict[str, Any], match: str | None = None) -> int: ...


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    # Handlers may be parked in a hang; stop() must not wait for them.
    block_on_close = False

    def __init__(self, address: tuple[str, int], fake: Decider) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeClaude/1.0"
    # Headers and body go out in separate writes; Nagle + delayed ACK would add ~40 ms per reply.
    disable_nagle_algorithm = True
    server: FakeServer
    request_id = "req_fake_0"
    responded = False

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        self.responded = False
        path = self.path.split("?", 1)[0].rstrip("/")
        route = _ROUTES.get((method, path))
        try:
            if route is None:
                self._drain()
                self._send_error(ErrorReply(404, f"Not found: {method} {path}"))
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
        except Exception as exc:
            # A bug in the fake should surface as an API error the SDK can report, not a dropped socket.
            logger.exception("fake claude failed on %s %s", method, self.path)
            self.close_connection = True
            if not self.responded:
                with contextlib.suppress(OSError):
                    self._send_error(ErrorReply(500, f"Fake Claude internal error: {exc!r}"))

    def send_response(self, code: int, message: str | None = None) -> None:
        self.responded = True
        super().send_response(code, message)

    # --- body helpers ---------------------------------------------------------------------------

    def _read_body(self) -> tuple[bytes, ErrorReply | None]:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return b"", ErrorReply(413)
        return self.rfile.read(length) if length > 0 else b"", None

    def _drain(self) -> None:
        self._read_body()

    def _read_json(self) -> tuple[Any, ErrorReply | None]:
        raw, problem = self._read_body()
        if problem is not None:
            return None, problem
        try:
            return (json.loads(raw) if raw.strip() else {}), None
        except ValueError as exc:
            return None, ErrorReply(400, f"Request body is not valid JSON: {exc}")

    def _authorized(self) -> bool:
        bearer = self.headers.get("authorization", "")
        return bool(self.headers.get("x-api-key")) or bearer.lower().startswith("bearer ")

    # --- writers --------------------------------------------------------------------------------

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", self.request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, error: ErrorReply) -> None:
        headers = {}
        if error.retry_ms is not None:
            headers = {
                "retry-after": str(math.ceil(error.retry_ms / 1000)),
                "retry-after-ms": str(error.retry_ms),
            }
        self._send_json(error.status, error.body(), headers)

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _write_event(self, name: str, data: dict[str, Any]) -> None:
        self._write_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

    # --- /v1/messages ---------------------------------------------------------------------------

    def _messages(self) -> None:
        fake = self.server.fake
        body, problem = self._read_json()
        record = fake.open_record(body)
        self.request_id = f"req_fake_{record['n']}"
        if not self._authorized():
            problem = ErrorReply(401)
        plan = fake.plan(body, record, problem)
        if plan.hang is not None:
            fake.hang_wait(plan.hang)
            self.close_connection = True
            return
        if not fake.pause(plan.latency_ms):
            self.close_connection = True
        elif plan.error is not None:
            self._send_error(plan.error)
        elif record["stream"]:
            self._stream(plan)
        else:
            self._send_json(200, plan.message)

    def _stream(self, plan: Plan) -> None:
        fake = self.server.fake
        self.send_response(200)
        for name, value in (
            ("content-type", "text/event-stream; charset=utf-8"),
            ("cache-control", "no-cache"),
            ("transfer-encoding", "chunked"),
            ("request-id", self.request_id),
        ):
            self.send_header(name, value)
        self.end_headers()
        deltas = 0
        for name, data in sse_events(plan.message or {}):
            if name == "content_block_delta":
                if plan.stream_fault and deltas >= (1 if plan.stream_fault == "hang" else 2):
                    break
                if deltas and not fake.pause(plan.chunk_delay_ms):
                    self.close_connection = True
                    return
                deltas += 1
            elif plan.stream_fault and name == "content_block_stop":
                break
            self._write_event(name, data)
        self._finish_stream(plan)

    def _finish_stream(self, plan: Plan) -> None:
        if plan.stream_fault == "hang":
            self.server.fake.hang_wait(self.server.fake.current_hang_event())
            self.close_connection = True
            return
        if plan.stream_fault == "error":
            self._write_event("error", ErrorReply(529).body())
            self.close_connection = True
        self._write_chunk(b"")

    def _count_tokens(self) -> None:
        body, problem = self._read_json()
        problem = problem or (None if self._authorized() else ErrorReply(401))
        if problem is not None:
            self._send_error(problem)
            return
        self._send_json(200, {"input_tokens": input_tokens(body if isinstance(body, dict) else {})})

    # --- /_fake control endpoints ---------------------------------------------------------------

    def _health(self) -> None:
        self._send_json(200, self.server.fake.health())

    def _list_requests(self) -> None:
        self._send_json(200, self.server.fake.requests)

    def _reset(self) -> None:
        self._drain()
        self.server.fake.reset()
        self._send_json(200, {"ok": True})

    def _config(self) -> None:
        self._control(
            lambda body: {
                "ok": True,
                **self.server.fake.configure(**_pick(body, "latency_ms", "chunk_delay_ms")),
            }
        )

    def _enqueue(self) -> None:
        def enqueue(body: dict[str, Any]) -> dict[str, Any]:
            reply = {k: v for k, v in body.items() if k != "match"}
            return {"ok": True, "queued": self.server.fake.enqueue(reply, match=body.get("match"))}

        self._control(enqueue)

    def _control(self, action: Any) -> None:
        body, problem = self._read_json()
        if problem is None and not isinstance(body, dict):
            problem = ErrorReply(400, "Body must be a JSON object")
        if problem is not None:
            self._send_error(problem)
            return
        try:
            self._send_json(200, action(body))
        except (TypeError, ValueError) as exc:
            self._send_error(ErrorReply(400, str(exc)))


def _pick(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: body[key] for key in keys if key in body}


_ROUTES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/messages"): _Handler._messages,
    ("POST", "/v1/messages/count_tokens"): _Handler._count_tokens,
    ("GET", "/_fake/health"): _Handler._health,
    ("GET", "/_fake/requests"): _Handler._list_requests,
    ("POST", "/_fake/reset"): _Handler._reset,
    ("POST", "/_fake/config"): _Handler._config,
    ("POST", "/_fake/enqueue"): _Handler._enqueue,
}
