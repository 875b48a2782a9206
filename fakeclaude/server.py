"""A local, standard-library-only fake of the Anthropic Messages API.

The project talks to it through the real ``anthropic`` SDK (``base_url=fake.url``), so every reply has
to be shaped exactly like the real API's: JSON messages, SSE streams and error bodies.
"""

from __future__ import annotations

import random
import threading
import time
from types import TracebackType
from typing import Any

from fakeclaude.cache import PromptCache
from fakeclaude.directives import (
    Directive,
    first_user_text,
    last_user_text,
    parse_directives,
    prompt_digest,
    request_text,
    task_words,
)
from fakeclaude.handler import FakeServer
from fakeclaude.replies import ErrorReply, Plan, build_reply, validate_body

HANG_SECONDS = 600.0
_FAULTS = frozenset({"error", "hang", "stream-hang", "stream-error"})


class FakeClaude:
    """Fake Anthropic Messages API server; see the package README section for the directive table."""

    def __init__(
        self,
        latency_ms: int = 0,
        chunk_delay_ms: int = 0,
        *,
        verbose: bool = False,
        latency_max_ms: int | None = None,
        plausible: bool = False,
    ) -> None:
        """`latency_max_ms`: each call waits a random time between latency_ms and it (a demo that a
        person can watch). `plausible`: planning calls get objective-specific plans (fakeclaude.demo)."""
        self._defaults = {"latency_ms": int(latency_ms), "chunk_delay_ms": int(chunk_delay_ms)}
        self._config = dict(self._defaults)
        self._latency_max_default = (
            max(int(latency_max_ms), int(latency_ms)) if latency_max_ms is not None else None
        )
        self._latency_max_ms = self._latency_max_default
        self.plausible = plausible
        self.verbose = verbose
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._queue: list[tuple[dict[str, Any], str | None]] = []
        self._counters: dict[tuple[str, str], int] = {}
        self._seq = 0
        self.prompt_cache = PromptCache()  # per process, like the API's per organisation
        # Hung handlers wait on the current event; reset() swaps it so later hangs block again.
        self._hang_event = threading.Event()
        self._stopping = threading.Event()
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None
        self._host = ""

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._server is not None:
            raise RuntimeError("FakeClaude is already running")
        self._stopping.clear()
        self._hang_event = threading.Event()
        self._server = FakeServer((host, port), self)
        self._host = host
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeclaude", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        self._hang_event.set()
        server.shutdown()
        # Idle keep-alive connections would otherwise keep handler threads blocked in recv().
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeClaude:
        if self._server is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeClaude is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    # --- control API ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(record) for record in self._requests]

    def configure(self, latency_ms: int | None = None, chunk_delay_ms: int | None = None) -> dict[str, int]:
        with self._lock:
            if latency_ms is not None:
                self._config["latency_ms"] = _non_negative(latency_ms, "latency_ms")
                self._latency_max_ms = None  # an explicit latency replaces a random range
            if chunk_delay_ms is not None:
                self._config["chunk_delay_ms"] = _non_negative(chunk_delay_ms, "chunk_delay_ms")
            return dict(self._config)

    def enqueue(self, reply: dict[str, Any], match: str | None = None) -> int:
        """Queue a scripted reply; returns the queue length."""
        _check_scripted(reply)
        with self._lock:
            self._queue.append((dict(reply), match))
            return len(self._queue)

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._counters.clear()
            self._seq = 0
            self._config = dict(self._defaults)
            self._latency_max_ms = self._latency_max_default
            self.prompt_cache.clear()
            hung, self._hang_event = self._hang_event, threading.Event()
        hung.set()

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {"status": "ok", "requests": len(self._requests), "queued": len(self._queue)}

    # --- request planning -----------------------------------------------------------------------

    def open_record(self, body: Any) -> dict[str, Any]:
        is_dict = isinstance(body, dict)
        with self._lock:
            self._seq += 1
            record = {
                "n": self._seq,
                "time": time.time(),
                "body": body,
                "stream": is_dict and body.get("stream") is True,
                "status": None,
                "outcome": "pending",
                "text": request_text(body) if is_dict else "",
            }
            self._requests.append(record)
        return record

    def plan(self, body: Any, record: dict[str, Any], problem: ErrorReply | None) -> Plan:
        with self._lock:
            config = dict(self._config)
        problem = problem or validate_body(body) or self.prompt_cache.check(body)
        if problem is not None:
            plan = Plan(f"error:{problem.status}", error=problem)
        else:
            plan = self._plan_valid(body, record)
        directives = parse_directives(record["text"])
        latency = config["latency_ms"]
        if self._latency_max_ms is not None:
            latency = random.randint(latency, self._latency_max_ms)
        plan.latency_ms = _setting(directives, "latency", latency)
        plan.chunk_delay_ms = _setting(directives, "slow", config["chunk_delay_ms"])
        with self._lock:
            record["status"] = plan.error.status if plan.error else (None if plan.hang else 200)
            record["outcome"] = plan.outcome
        return plan

    def _plan_valid(self, body: dict[str, Any], record: dict[str, Any]) -> Plan:
        directives = parse_directives(record["text"])
        # per conversation: a fault counted xN fires N times in a tool loop, not N times a turn
        digest = prompt_digest(first_user_text(body))
        plan = self._fault_plan(directives, digest, record["stream"])
        if plan is not None and plan.stream_fault is None:
            return plan
        scripted = None if plan is not None else self._pop_scripted(record["text"])
        if scripted is not None and "error" in scripted:
            error = ErrorReply(int(scripted["error"]), str(scripted.get("message", "")), _retry(scripted))
            return Plan("scripted", error=error)
        fires = self._firing(directives, digest, commit=plan is None and scripted is None)
        message, outcome = build_reply(
            record["n"], body, fires, scripted, task_words_of(body), plausible=self.plausible
        )
        message["usage"].update(self.prompt_cache.usage(body, message["usage"]["input_tokens"]))
        if plan is not None:
            plan.message = message
            return plan
        return Plan("scripted" if scripted is not None else outcome, message=message)

    def _fault_plan(self, directives: list[Directive], digest: str, stream: bool) -> Plan | None:
        for directive in directives:
            if directive.name not in _FAULTS or not self._consume(directive, digest):
                continue
            if directive.name == "error":
                status = directive.status or 500
                return Plan(f"error:{status}", error=ErrorReply(status, retry_ms=directive.retry_ms))
            if directive.name == "hang" or (directive.name == "stream-hang" and not stream):
                return Plan("hang", hang=self.current_hang_event())
            if directive.name == "stream-hang":
                return Plan("stream-hang", stream_fault="hang", hang=None)
            if stream:
                return Plan("stream-error", stream_fault="error")
            # A non-streaming caller cannot see a mid-stream failure; the nearest equivalent is a 529.
            return Plan("error:529", error=ErrorReply(529, retry_ms=1000))
        return None

    def _firing(self, directives: list[Directive], digest: str, *, commit: bool) -> list[Directive]:
        """Reply-shaping directives that apply to this request (counted ones only while N lasts)."""
        return [d for d in directives if d.name not in _FAULTS and self._consume(d, digest, commit=commit)]

    def _consume(self, directive: Directive, digest: str, *, commit: bool = True) -> bool:
        if directive.times is None:
            return True
        key = (directive.key, digest)
        with self._lock:
            used = self._counters.get(key, 0)
            if used >= directive.times:
                return False
            if commit:
                self._counters[key] = used + 1
            return True

    def _pop_scripted(self, text: str) -> dict[str, Any] | None:
        with self._lock:
            for position, (reply, match) in enumerate(self._queue):
                if match is None or match in text:
                    del self._queue[position]
                    return reply
        return None

    def current_hang_event(self) -> threading.Event:
        with self._lock:
            return self._hang_event

    def hang_wait(self, event: threading.Event) -> None:
        event.wait(HANG_SECONDS)

    def pause(self, milliseconds: int) -> bool:
        """Sleep unless the server is stopping; False means abandon the response."""
        if milliseconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(milliseconds / 1000)


def task_words_of(body: dict[str, Any]) -> list[str]:
    return task_words(last_user_text(body), 6)


def _setting(directives: list[Directive], name: str, default: int) -> int:
    values = [d.value for d in directives if d.name == name]
    return int(values[-1]) if values else default


def _retry(reply: dict[str, Any]) -> int | None:
    value = reply.get("retry_after_ms")
    return int(value) if value is not None else None


def _non_negative(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
    return int(value)


def _check_scripted(reply: Any) -> None:
    if not isinstance(reply, dict):
        raise ValueError("a scripted reply must be an object")
    kinds = [key for key in ("tool_input", "text", "error") if key in reply]
    if len(kinds) != 1:
        raise ValueError("a scripted reply needs exactly one of tool_input, text or error")
    if "error" in reply and not (isinstance(reply["error"], int) and 400 <= reply["error"] <= 599):
        raise ValueError("error must be an HTTP status between 400 and 599")
    if "tool_input" in reply and not isinstance(reply["tool_input"], dict):
        raise ValueError("tool_input must be an object")
    if "text" in reply and not isinstance(reply["text"], str):
        raise ValueError("text must be a string")
