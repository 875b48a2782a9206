"""Field rules shared by the API serializers, and the one helper views call to validate."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from rest_framework import serializers

from core.errors import ValidationFailed, flatten_errors

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
    serializer = serializer_class(data=data, context=context)
    if not serializer.is_valid():
        raise ValidationFailed("Request is invalid", details=flatten_errors(serializer.errors, data))
    return serializer.validated_data


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
