"""Artifacts: fenced code blocks that name a file, e.g. ```python:src/app.py or ```js title="a.js".

The blocks are found by markdown-it's parser (its `fence` tokens), so a fence is whatever Markdown
calls one: inside a list item or a blockquote too, a longer fence around a shorter one, but not
backticks in a paragraph nor an indented code block.
"""

from __future__ import annotations

import posixpath
import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

_TITLE = re.compile(r"""(?:title|file|filename|path)=["']?([^"'\s]+)["']?""")
MAX_PATH = 200
_PARSER = MarkdownIt("commonmark")


def extract(markdown: str) -> list[dict[str, str]]:
    artifacts = []
    lines = markdown.split("\n")
    for token in _PARSER.parse(markdown):
        if token.type != "fence" or not _closed(token, lines):
            continue
        language, path = _parse_info(token.info.strip())
        if path:
            artifacts.append({"path": path, "language": language, "content": token.content})
    return artifacts


def _closed(token: Token, lines: list[str]) -> bool:
    """markdown-it runs an unclosed fence to the end of its container; an answer cut off at
    max_tokens ends that way, and half a file is not a file."""
    start, end = token.map or (0, 0)
    if end - start < 2:
        return False
    last = lines[end - 1].lstrip(" >\t").rstrip()  # in a blockquote or a list item it is indented
    return last.startswith(token.markup) and set(last) == {token.markup[0]}


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
