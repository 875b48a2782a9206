"""What a call will cost before it is made: its prompt's tokens (estimated), and the output
tokens that still fit the swarm's budget once the prompt is paid for.

Claude bills the prompt whatever the answer; a budget is only respected if the prompt and the
largest answer asked for (`max_tokens`) fit together in what is left.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from engine.claude import client
from engine.claude.calls import Spend

# Claude's tokenizer averages about 3.5-4 characters a token on English prose and more tokens on
# JSON and code: three characters a token over-estimates the prompt, so the budget errs safe.
CHARS_PER_TOKEN = 3


def input_tokens(*, system: str, messages: list[dict[str, Any]], tool: dict[str, Any] | None = None) -> int:
    text = system + json.dumps(messages, ensure_ascii=False) + (json.dumps(tool) if tool else "")
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def output_room(spend: Spend, *, model: str, prompt_tokens: int) -> int | None:
    """Output tokens the budget can still pay for after this prompt (≤ 0: not even the prompt
    fits); None when the swarm has no limit."""
    rooms = []
    if spend.limits.get("maxTokens"):
        rooms.append(spend.limits["maxTokens"] - spend.tokens - prompt_tokens)
    if spend.limits.get("maxCostUsd"):
        left = Decimal(str(spend.limits["maxCostUsd"])) - spend.cost
        rooms.append(
            client.output_tokens_for(model, left - client.cost_usd(model, {"input_tokens": prompt_tokens}))
        )
    return min(rooms) if rooms else None
