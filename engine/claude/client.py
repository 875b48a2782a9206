"""The Anthropic client (built once), the model of each role, and the price of a call.

Tests, the offline demo and benchmarks set ANTHROPIC_BASE_URL to the local fake Claude, so the
real SDK path is what runs everywhere; with ANTHROPIC_API_KEY alone it talks to the real API.
"""

from __future__ import annotations

import functools
import math
from decimal import Decimal

import anthropic
import httpx2
from django.conf import settings

from core.claude_models import PRICES

_FAMILY = {"opus": (5.0, 25.0), "sonnet": (3.0, 15.0), "haiku": (1.0, 5.0)}
_MILLION = Decimal(1_000_000)


def client() -> anthropic.Anthropic:
    return _client(
        settings.ANTHROPIC_API_KEY or "no-key",
        settings.ANTHROPIC_BASE_URL or None,
        settings.CLAUDE_TIMEOUT_MS,
    )


@functools.cache
def _client(api_key: str, base_url: str | None, timeout_ms: int) -> anthropic.Anthropic:
    # max_retries=0: the execution bridge owns the retry policy, so every attempt is counted
    timeout = httpx2.Timeout(timeout_ms / 1000, connect=min(10.0, timeout_ms / 1000))
    return anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)


def model_for(role: str) -> str:
    return settings.CLAUDE_MODELS[role]


def price_of(model: str) -> tuple[float, float]:
    custom = settings.CLAUDE_PRICES.get(model)
    if custom:
        return float(custom[0]), float(custom[1])
    if model in PRICES:
        return PRICES[model]
    for family, price in _FAMILY.items():
        if family in model:
            return price
    return _FAMILY["sonnet"]


def output_tokens_for(model: str, usd: Decimal) -> int:
    """The output tokens `usd` pays for at the model's price (a free model: as many as asked)."""
    price_out = Decimal(str(price_of(model)[1])) / _MILLION
    return math.floor(usd / price_out) if price_out else 10**9


def cost_usd(model: str, usage: dict[str, int]) -> Decimal:
    price_in, price_out = (Decimal(str(p)) for p in price_of(model))
    tokens_in = (
        Decimal(usage.get("input_tokens", 0))
        + Decimal(usage.get("cache_creation_input_tokens", 0)) * Decimal("1.25")
        + Decimal(usage.get("cache_read_input_tokens", 0)) * Decimal("0.1")
    )
    total = (tokens_in * price_in + Decimal(usage.get("output_tokens", 0)) * price_out) / _MILLION
    return total.quantize(Decimal("0.000001"))
