"""Artifacts: fenced code blocks that name a file, e.g. ```python:src/app.py or ```js title="a.js"."""

from __future__ import annotations

import posixpath
import re

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S)
_TITLE = re.compile(r"""(?:title|file|filename|path)=["']?([^"'\s]+)["']?""")
MAX_PATH = 200


def extract(markdown: str) -> list[dict[str, str]]:
    artifacts = []
    for match in _FENCE.finditer(markdown):
        language, path = _parse_info(match.group("info").strip())
        if path:
            artifacts.append({"path": path, "language": language, "content": match.group("body")})
    return artifacts


def _parse_info(info: str) -> tuple[str, str | None]:
    """`python:src/a.py`, `python src/a.py` or `python title="src/a.py"` → ("python", "src/a.py")."""
    words = info.split()
    if not words:
        return "", None
    head = words[0]
    language = "" if _TITLE.match(head) else head.split(":")[0]
    titled = _TITLE.search(info)
    if titled:
        return language, _safe(titled.group(1))
    if ":" in head:
        return language, _safe(head.partition(":")[2])
    if len(words) > 1 and ("/" in words[1] or "." in words[1]):
        return language, _safe(words[1])
    return language, None


def _safe(path: str) -> str | None:
    """A relative, normalised path inside the result; anything escaping it is dropped."""
    path = path.strip().replace("\\", "/")
    normal = posixpath.normpath(path)
    if not path or normal.startswith(("/", "..")) or normal == "." or len(normal) > MAX_PATH:
        return None
    return normal
