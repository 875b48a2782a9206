"""Public ids in the spec's style: `swarm_mdnsk2o1_4ixwmn7rj` = prefix, base36 time, random."""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.digits + string.ascii_lowercase


def base36(number: int) -> str:
    digits = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_ALPHABET[rest])
        if number == 0:
            return "".join(reversed(digits))


def new_id(prefix: str) -> str:
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(9))
    return f"{prefix}_{base36(time.time_ns() // 1_000_000)}_{random_part}"


# Named defaults for model fields (migrations need importable callables).
def key_id() -> str:
    return new_id("key")


def swarm_id() -> str:
    return new_id("swarm")


def agent_id() -> str:
    return new_id("agent")


def task_id() -> str:
    return new_id("task")


class IdConverter:
    """`<id:swarm_id>` in URL patterns: any segment without control characters. A NUL cannot even
    be compared with PostgreSQL text, so such a path is a 404 before any query runs."""

    regex = r"[^/\x00-\x1f\x7f]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
