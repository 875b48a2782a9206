"""The JSON parser every API view uses: bounded in size and depth, strict about what it accepts.

Python's `json` accepts input that later breaks something else: nesting deep enough to exhaust
the recursion limit, `NaN`/`Infinity` and `1e309` (an infinite float no JSON encoder or
PostgreSQL `jsonb` takes back), NUL characters (PostgreSQL text cannot hold them) and unpaired
surrogates (no UTF-8 encoding exists). All of these are refused here, before any view sees them,
with a 400 in the spec's error shape; a body over MAX_JSON_BYTES is a 413 before it is read in full.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core import errors  # a module reference: core.errors imports DRF's views, which load this parser

MAX_JSON_DEPTH = 32  # objects and arrays nested; the API's own documents need 4
MAX_REPORTED = 20  # bad strings listed in one error

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class StrictJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        raw = _read_bounded(stream, parser_context.get("request"), settings.MAX_JSON_BYTES)
        try:
            text = raw.decode(parser_context.get("encoding") or settings.DEFAULT_CHARSET)
        except (UnicodeDecodeError, LookupError):
            raise ParseError("JSON parse error - the body is not valid text in its charset") from None
        if json_depth(text) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except ValueError as exc:  # JSONDecodeError, and int() of more than 4300 digits
            raise ParseError(f"JSON parse error - {exc}") from None
        problems = [
            {"field": field, "message": message, "value": None}
            for field, message in _unstorable_strings(data, "")
        ][:MAX_REPORTED]
        if problems:
            raise errors.ValidationFailed("Request is invalid", details=problems)
        return data


def _read_bounded(stream: Any, request: Any, limit: int) -> bytes:
    """The declared length is checked first; the read stops one byte past the limit either way."""
    declared = request.META.get("CONTENT_LENGTH") if request is not None else None
    if declared and str(declared).isdigit() and int(declared) > limit:
        raise _too_large(limit)
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise _too_large(limit)
    return raw


def _too_large(limit: int) -> errors.PayloadTooLarge:
    return errors.PayloadTooLarge(f"The JSON body is larger than {limit} bytes (MAX_JSON_BYTES)")


def json_depth(text: str) -> int:
    """How deep objects and arrays nest in JSON `text` (brackets inside strings do not count)."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if char in "[{" else -1 for char in brackets), default=0)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{literal} is out of range for a number")
    return number


def _unstorable_strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(field, message) for each string, key or value, that text storage cannot hold."""
    if isinstance(value, str):
        problem = _problem(value)
        if problem:
            yield path or "body", problem
    elif isinstance(value, dict):
        for key, item in value.items():
            field = f"{path}.{_printable(key)}" if path else _printable(key)
            problem = _problem(key)
            if problem:
                yield field, f"Key: {problem}"
            yield from _unstorable_strings(item, field)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_strings(item, f"{path}.{index}" if path else str(index))


def _problem(text: str) -> str:
    if "\x00" in text:
        return "Contains a NUL character (U+0000)"
    found = None if text.isascii() else _SURROGATE.search(text)
    if found:
        return f"Contains an unpaired surrogate (U+{ord(found.group()):04X})"
    return ""


def _printable(key: str) -> str:
    """A key safe to echo in an error (an unpaired surrogate cannot be encoded in the response)."""
    return key if not _problem(key) else key.encode("unicode_escape").decode("ascii")
