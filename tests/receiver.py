"""A real HTTP server on a thread that records the webhook requests it gets and answers as scripted."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # what to answer, in order (the last one repeats): a status code, ("sleep", seconds, status),
    # or ("redirect", location)
    answers: list[Any] = field(default_factory=lambda: [200])

    def next_answer(self) -> Any:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def event_types(self) -> list[str]:
        return [r.json()["eventType"] for r in self.requests if r.path == "/hook"]


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.receiver.requests.append(
            Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        answer = self.receiver.next_answer()
        if isinstance(answer, tuple) and answer[0] == "sleep":
            time.sleep(answer[1])
            answer = answer[2]
        if isinstance(answer, tuple) and answer[0] == "redirect":
            self.send_response(302)
            self.send_header("Location", answer[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = b"nope" if answer >= 300 else b"ok"
        self.send_response(answer)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the sender may have timed out and left
            self.wfile.write(payload)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def running_receiver(tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Iterator[Receiver]:
    """On 127.0.0.1; with `tls`, an https server (its URL then names `host`)."""
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    receiver = Receiver(url=f"{scheme}://{host}:{server.server_address[1]}/hook")
    handler.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def verify(secret: str, received: Received, *, tolerance: int = 300) -> bool:
    """Standard Webhooks verification, written from the scheme (not with the server's code)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message_id, timestamp = received.headers["webhook-id"], received.headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = base64.b64encode(
        hmac.new(key, f"{message_id}.{timestamp}.".encode() + received.body, hashlib.sha256).digest()
    ).decode()
    offered = [
        s.partition(",")[2] for s in received.headers["webhook-signature"].split() if s.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)
