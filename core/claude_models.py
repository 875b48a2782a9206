"""The Claude models this deployment knows: its price table and the models its settings name.

An agent type may pick its model only among these (a typo would otherwise surface as a failed
task much later). engine/claude prices calls from the same table.
"""

from __future__ import annotations

from django.conf import settings

# USD per million tokens: (input, output). Cache writes cost 1.25× input, cache reads 0.1× input.
# Override or extend with CLAUDE_PRICES='{"model-id": [input, output]}'.
PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-5-5": (5.0, 25.0),
    "claude-sonnet-5-5": (3.0, 15.0),
    "claude-haiku-5-5": (1.0, 5.0),
    "claude-opus-4-8": (5.0, 25.0),
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
}


def known_models() -> list[str]:
    """The price table's models, those CLAUDE_PRICES adds, and those the role settings name."""
    names = {*PRICES, *settings.CLAUDE_PRICES, *settings.CLAUDE_MODELS.values()}
    return sorted(name for name in names if name)
