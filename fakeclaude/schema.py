"""Deterministic JSON-Schema instance generation for fake ``tool_use`` inputs.

The output must validate against the tool's ``input_schema`` and look plausible enough for a demo:
strings are readable, enums vary across array items, and integer arrays (typically dependency indexes)
stay empty so a generated plan never references itself.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

Schema = dict[str, Any]

NUMBER_DEFAULT = 0.85
DEFAULT_ARRAY_ITEMS = 3
# Beyond this depth only required properties and minItems items are generated, so recursive
# schemas (a tree of tasks via $ref) terminate.
SHALLOW_DEPTH = 8
_MAX_RESOLVE_STEPS = 32
_FORMATS: dict[str, str] = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "email": "fake@example.com",
    "uri": "https://example.com/fake",
    "url": "https://example.com/fake",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


@dataclass(frozen=True)
class _Context:
    name: str
    index: int | None
    depth: int


def generate_instance(schema: Schema, words: list[str] | None = None) -> Any:
    """Build a value for ``schema``; ``words`` (from the user's prompt) flavour generated strings."""
    return _Generator(schema, " ".join(words or [])).value(schema, _Context("value", None, 0))


class _Generator:
    def __init__(self, root: Schema, words: str) -> None:
        self.root = root
        self.words = words

    def value(self, schema: Any, ctx: _Context) -> Any:
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "default" in schema:  # what a model leaves as is unless the prompt asks otherwise
            return schema["default"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            values = schema["enum"]
            return values[(ctx.index or 0) % len(values)]
        kind = schema_type(schema)
        if kind == "object":
            return self._object(schema, ctx)
        if kind == "array":
            return self._array(schema, ctx)
        if kind == "integer":
            return integer_value(schema)
        if kind == "number":
            return number_value(schema)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema, ctx)

    def resolve(self, schema: Any) -> Schema:
        """Follow $ref/allOf/anyOf/oneOf until a concrete schema remains, keeping sibling keywords."""
        if not isinstance(schema, dict):
            return {}
        for _ in range(_MAX_RESOLVE_STEPS):
            if "$ref" in schema:
                siblings = {k: v for k, v in schema.items() if k != "$ref"}
                schema = {**self._pointer(schema["$ref"]), **siblings}
            elif "allOf" in schema:
                schema = _merge_all(schema, [self.resolve(part) for part in schema["allOf"]])
            elif "anyOf" in schema or "oneOf" in schema:
                key = "anyOf" if "anyOf" in schema else "oneOf"
                siblings = {k: v for k, v in schema.items() if k != key}
                schema = {**_first_branch(schema[key]), **siblings}
            else:
                return schema
        return schema

    def _pointer(self, ref: Any) -> Schema:
        if not isinstance(ref, str) or not ref.startswith("#"):
            return {}
        node: Any = self.root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def _object(self, schema: Schema, ctx: _Context) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        shallow = ctx.depth >= SHALLOW_DEPTH
        # Nested objects keep the enclosing array index so enums inside list items still vary.
        return {
            name: self.value(sub, replace(ctx, name=name, depth=ctx.depth + 1))
            for name, sub in properties.items()
            if not shallow or name in required
        }

    def _array(self, schema: Schema, ctx: _Context) -> list[Any]:
        items = schema.get("items", {})
        if isinstance(items, list):  # draft-04 tuple form
            return [
                self.value(sub, replace(ctx, index=i, depth=ctx.depth + 1)) for i, sub in enumerate(items)
            ]
        item_schema = self.resolve(items)
        values = [
            self.value(item_schema, replace(ctx, index=i, depth=ctx.depth + 1))
            for i in range(array_length(schema, item_schema, shallow=ctx.depth >= SHALLOW_DEPTH))
        ]
        if schema.get("uniqueItems") and schema_type(item_schema) == "integer":
            values = [v + i for i, v in enumerate(values)]
        return values

    def _string(self, schema: Schema, ctx: _Context) -> str:
        text = _FORMATS.get(str(schema.get("format", "")), "")
        if not text:
            label = humanize(ctx.name)
            label = f"{label} {ctx.index + 1}" if ctx.index is not None else label
            text = f"{label}: {self.words}" if self.words else label
        return fit_length(text, schema.get("minLength", 0), schema.get("maxLength"))


def schema_type(schema: Schema) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or ["null"]
        kind = kinds[0]
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def array_length(schema: Schema, item_schema: Schema, *, shallow: bool = False) -> int:
    min_items = int(schema.get("minItems", 0))
    # Integer items are usually indexes into a sibling list; leaving them empty avoids self-references.
    if shallow or schema_type(item_schema) == "integer":
        return min_items
    max_items = schema.get("maxItems")
    wanted = min(DEFAULT_ARRAY_ITEMS, int(max_items)) if max_items is not None else DEFAULT_ARRAY_ITEMS
    return max(min_items, wanted)


def number_value(schema: Schema) -> float:
    low, high = _bounds(schema)
    value = NUMBER_DEFAULT
    if low is not None and not _above(value, low):
        value = low[0] + 1 if low[1] else low[0]
    if high is not None and not _below(value, high):
        value = high[0] - 1 if high[1] else high[0]
    # Stepping off an exclusive bound can overshoot a narrow range; the midpoint is always inside.
    if low is not None and high is not None and not _above(value, low):
        value = (low[0] + high[0]) / 2
    return value


def _above(value: float, bound: tuple[float, bool]) -> bool:
    return value > bound[0] if bound[1] else value >= bound[0]


def _below(value: float, bound: tuple[float, bool]) -> bool:
    return value < bound[0] if bound[1] else value <= bound[0]


def integer_value(schema: Schema) -> int:
    low, high = _bounds(schema)
    value = 0
    if low is not None:
        value = math.floor(low[0]) + 1 if low[1] else math.ceil(low[0])
    if high is not None:
        ceiling = math.ceil(high[0]) - 1 if high[1] else math.floor(high[0])
        value = min(value, ceiling)
    step = schema.get("multipleOf")
    if isinstance(step, int) and step > 0 and value % step:
        value += step - value % step
    return value


def _bounds(schema: Schema) -> tuple[tuple[float, bool] | None, tuple[float, bool] | None]:
    """(value, exclusive) for the lower and upper bound, accepting draft-04 boolean exclusives."""

    def bound(inclusive_key: str, exclusive_key: str) -> tuple[float, bool] | None:
        exclusive = schema.get(exclusive_key)
        if isinstance(exclusive, (int, float)) and not isinstance(exclusive, bool):
            return (exclusive, True)
        inclusive = schema.get(inclusive_key)
        if isinstance(inclusive, (int, float)):
            return (inclusive, exclusive is True)
        return None

    return bound("minimum", "exclusiveMinimum"), bound("maximum", "exclusiveMaximum")


def fit_length(text: str, min_length: int, max_length: int | None) -> str:
    while len(text) < min_length:
        text += " with more detail"
    if max_length is not None and len(text) > max_length:
        text = text[:max_length]
        # Trailing spaces look odd, but only drop them when minLength still holds.
        if len(text.rstrip()) >= min_length:
            text = text.rstrip()
    return text


def humanize(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    spaced = " ".join(spaced.split()).lower()
    return spaced[:1].upper() + spaced[1:] if spaced else "Value"


def _first_branch(branches: Any) -> Schema:
    options = [b for b in branches if isinstance(b, dict)] if isinstance(branches, list) else []
    # Optional[X] is often spelled anyOf [X, null]; prefer a real value over null.
    non_null = [b for b in options if b.get("type") != "null"]
    return (non_null or options or [{}])[0]


def _merge_all(schema: Schema, parts: list[Schema]) -> Schema:
    merged: Schema = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        for key, value in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", []), *value})
            else:
                merged.setdefault(key, value)
    return merged
