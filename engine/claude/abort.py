"""Abort: set from another thread to stop a call at once; it also shuts the live socket down."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any


class Aborted(Exception):
    """The caller's Abort fired (stop, cancel, timeout, lost lease, budget, shutdown)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Abort:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._wakes: list[threading.Event] = []
        self.reason = ""

    def trigger(self, reason: str) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            for sock in self._sockets:
                _shutdown(sock)
            for event in self._wakes:
                event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

    def wake(self, event: threading.Event) -> None:
        """Sets `event` when this fires (at once if it has): a waiting thread returns without polling."""
        with self._lock:
            self._wakes.append(event)
            if self._event.is_set():
                event.set()

    def attach(self, response: Any) -> None:
        stream = response.extensions.get("network_stream") if response is not None else None
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self._event.is_set():
                _shutdown(sock)

    def raise_if_set(self) -> None:
        if self._event.is_set():
            raise Aborted(self.reason)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)
