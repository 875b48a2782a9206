"""Field rules shared by the API serializers, and the one helper views call to validate."""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from core.errors import ValidationFailed, _jsonable, flatten_errors

_ALLOWED_WHITESPACE = {"\n", "\r", "\t"}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def no_control_characters(value: str) -> str:
    """Any printable Unicode is welcome (the spec's ASCII-only pattern is not kept); control
    characters other than newline and tab are refused."""
    for char in value:
        if char not in _ALLOWED_WHITESPACE and unicodedata.category(char) in ("Cc", "Cs"):
            raise serializers.ValidationError(f"Contains a control character (U+{ord(char):04X})")
    return value


def validated(serializer_class: type[serializers.Serializer], data: Any, **context: Any) -> dict[str, Any]:
    """The serializer's validated data, or ValidationFailed listing every problem: a choice's error
    lists the valid values, and a field the API does not know but resembles one it does
    (`max_agents`, `objectve`) is reported with the field meant instead of being ignored."""
    serializer = serializer_class(data=data, context=context)
    details = (
        [] if serializer.is_valid() else flatten_errors(explain_choices(serializer, serializer.errors), data)
    )
    reported = {item["field"] for item in details}
    details += [item for item in misspelled_fields(serializer, data) if item["field"] not in reported]
    if details:
        raise ValidationFailed("Request is invalid", details=details)
    return serializer.validated_data


CHOICES_SHOWN = 20  # a longer list is cut short with "…"


def choices_message(name: str, field: serializers.ChoiceField, value: Any) -> str:
    return one_of_message(name, [str(choice) for choice in field.choices], value)


def one_of_message(name: str, choices: list[str], value: Any) -> str:
    """`strategy must be one of auto, research, …; got "developement" (did you mean "development"?)`."""
    listed = ", ".join(choices[:CHOICES_SHOWN]) + (", …" if len(choices) > CHOICES_SHOWN else "")
    got = str(value)[:100]
    message = f'{name} must be one of {listed}; got "{got}"'
    close = difflib.get_close_matches(got, choices, n=1, cutoff=0.75)
    return message + (f' (did you mean "{close[0]}"?)' if close else "")


def explain_choices(field: Any, errors: Any, value: Any = None, name: str = "") -> Any:
    """DRF's errors with every `"x" is not a valid choice.` replaced by one that lists the choices."""
    if isinstance(field, serializers.ListSerializer | serializers.ListField) and isinstance(errors, dict):
        child = field.child
        return {
            index: explain_choices(
                child, sub, value[index] if isinstance(value, list) and index < len(value) else None, name
            )
            for index, sub in errors.items()
        }
    if isinstance(field, serializers.Serializer) and isinstance(errors, dict):
        fields = field.fields
        data = value if value is not None else getattr(field, "initial_data", None)
        return {
            key: explain_choices(
                fields.get(key), sub, data.get(key) if isinstance(data, Mapping) else None, str(key)
            )
            if key in fields
            else sub
            for key, sub in errors.items()
        }
    if isinstance(field, serializers.ChoiceField) and isinstance(errors, list):
        return [
            choices_message(name or "value", field, value)
            if getattr(error, "code", "") == "invalid_choice"
            else error
            for error in errors
        ]
    return errors


def _normalised(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def _meant(key: str, names: list[str], data: Mapping[str, Any]) -> str | None:
    """The known name an unknown `key` looks like (one not also sent), or None."""
    meant = {_normalised(name): name for name in names}.get(_normalised(key))
    if meant is None or meant in data:
        close = difflib.get_close_matches(key, [name for name in names if name not in data], n=1, cutoff=0.85)
        meant = close[0] if close else None
    return meant


def misspelled_parameters(known: list[str], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Query parameters the endpoint does not take that look like one it does (`stauts` for
    `status`, `after_id` for `afterId`), in the same shape as `misspelled_fields`."""
    found = []
    for key in list(params.keys())[:200]:
        meant = None if key in known else _meant(str(key), known, params)
        if meant is not None:
            found.append(
                {
                    "field": str(key)[:200],
                    "message": f'Unknown field "{str(key)[:100]}"; did you mean "{meant}"?',
                    "value": _jsonable(params.get(key)),
                }
            )
    return found


def misspelled_fields(
    serializer: serializers.Serializer, data: Any, prefix: str = ""
) -> list[dict[str, Any]]:
    """Keys of `data` the serializer does not know that look like a field it does: `max_agents` or
    `maxagents` for `maxAgents`, `objectve` for `objective`. Other unknown keys stay ignored."""
    if not isinstance(data, Mapping):
        return []
    fields = {name: field for name, field in serializer.fields.items() if not field.read_only}
    found: list[dict[str, Any]] = []
    for key in list(data.keys())[:200]:
        path = f"{prefix}.{key}" if prefix else str(key)
        if key in fields:
            if isinstance(fields[key], serializers.Serializer):
                found += misspelled_fields(fields[key], data[key], path)
            continue
        meant = _meant(str(key), list(fields), data)
        if meant is not None:
            qualified = f"{prefix}.{meant}" if prefix else meant
            found.append(
                {
                    "field": path[:200],
                    "message": f'Unknown field "{str(key)[:100]}"; did you mean "{qualified}"?',
                    "value": _jsonable(data[key]),
                }
            )
    return found


class StrictBooleanField(serializers.BooleanField):
    """true/false only: "yes", 1 or "0" are mistakes, not booleans."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")  # fail() raises


class StrictIntegerField(serializers.IntegerField):
    """Integers as JSON numbers only (not "5", not 5.5, not true)."""

    def to_internal_value(self, data: Any) -> int:
        if (
            isinstance(data, bool)
            or not isinstance(data, int | float)
            or (isinstance(data, float) and not data.is_integer())
        ):
            self.fail("invalid")
        return super().to_internal_value(int(data))


class StrictNumberField(serializers.FloatField):
    """Finite JSON numbers only (not "1.5", not true, not 1e309)."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        try:
            number = float(data)
        except OverflowError:  # an integer beyond float's range
            self.fail("invalid")
        if not math.isfinite(number):
            self.fail("invalid")
        return super().to_internal_value(number)


class JSONObjectField(serializers.JSONField):
    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object")
        return super().to_internal_value(data)
