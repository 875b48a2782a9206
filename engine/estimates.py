"""What running a plan will cost, as a range, before any task runs (shown when a plan awaits approval).

Per task, from the configured models' prices (CLAUDE_PRICES or the built-in table):
- low: the task answered in as few turns as it can (one without tools, two with: write, then
  submit), each turn's prompt the task's own text and tools, each answer LOW_OUTPUT_TOKENS; plus
  a short review when the swarm reviews results;
- high: HIGH_TURNS tool-loop turns (at most TASK_MAX_TURNS), each answer CLAUDE_MAX_TOKENS and
  each prompt carrying the dependencies' outputs (up to CONTEXT_CHAR_BUDGET) and the earlier turns;
  a hierarchical swarm's review may also send each task back once (its high end counts twice).
Prompts are counted in characters: the low end at four a token (Claude's average on prose), the
high end at three (engine/claude/estimate.py: what the budget checks use, erring high). What was
already spent on planning is reported beside the range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings

from agents.registry import AGENT_TYPES
from engine import tools as tools_module
from engine.claude import client
from engine.claude.estimate import CHARS_PER_TOKEN
from swarms.models import Swarm

LOW_OUTPUT_TOKENS = 150  # a short answer, or a submit_result call
LOW_CHARS_PER_TOKEN = 4
HIGH_TURNS = 6
REVIEW_OUTPUT_TOKENS = (150, 1024)
PROMPT_OVERHEAD_CHARS = (300, 1500)  # headings, requirements, the workspace listing: low, high
_MILLION = Decimal(1_000_000)


def _tokens(chars: int, per_token: int = CHARS_PER_TOKEN) -> int:
    return math.ceil(chars / per_token)


def _cost(model: str, tokens_in: int, tokens_out: int) -> Decimal:
    price_in, price_out = (Decimal(str(p)) for p in client.price_of(model))
    return (tokens_in * price_in + tokens_out * price_out) / _MILLION


def plan_cost(swarm: Swarm, tasks: Sequence[Any]) -> dict[str, Any]:
    """`tasks`: objects with description, agent_type and dependencies (a list) — planned or stored."""
    agent_model, review_model = client.model_for("agent"), client.model_for("reviewer")
    reviews = swarm.options.get("review") is not False or swarm.mode == Swarm.Mode.HIERARCHICAL
    hierarchical = swarm.mode == Swarm.Mode.HIERARCHICAL
    low = high = Decimal("0")
    low_tokens = high_tokens = 0
    for task in tasks:
        kind = AGENT_TYPES.get(task.agent_type)
        system = len(kind.system_prompt) if kind else 600
        declared = len(json.dumps(tools_module.declarations(kind.tools))) if kind and kind.tools else 0
        chars = system + declared + len(swarm.objective) + len(task.description)
        base_low = _tokens(chars + PROMPT_OVERHEAD_CHARS[0], LOW_CHARS_PER_TOKEN)
        base = _tokens(chars + PROMPT_OVERHEAD_CHARS[1])
        tools = bool(kind.tools) if kind else True
        turns_low, turns_high = (2, min(HIGH_TURNS, settings.TASK_MAX_TURNS)) if tools else (1, 1)
        context = _tokens(settings.CONTEXT_CHAR_BUDGET) if len(task.dependencies) else 0
        out = settings.CLAUDE_MAX_TOKENS
        # low: short answers; high: every turn's prompt carries the context and the earlier turns
        in_low, out_low = turns_low * base_low, turns_low * LOW_OUTPUT_TOKENS
        in_high = sum(base + context + turn * out for turn in range(turns_high))
        out_high = turns_high * out
        if hierarchical and not getattr(task, "is_synthesis", False):
            in_high, out_high = 2 * in_high, 2 * out_high  # one revision
        low += _cost(agent_model, in_low, out_low)
        high += _cost(agent_model, in_high, out_high)
        low_tokens += in_low + out_low
        high_tokens += in_high + out_high
        if reviews and not getattr(task, "is_synthesis", False):
            review_low = (base_low + LOW_OUTPUT_TOKENS, REVIEW_OUTPUT_TOKENS[0])
            review_high = (base + out, REVIEW_OUTPUT_TOKENS[1])
            low += _cost(review_model, *review_low)
            high += _cost(review_model, *review_high)
            low_tokens += sum(review_low)
            high_tokens += sum(review_high)
    return {
        "lowUsd": float(round(low, 4)),
        "highUsd": float(round(high, 4)),
        "lowTokens": low_tokens,
        "highTokens": high_tokens,
        "tasks": len(tasks),
        "models": {"agent": agent_model, "reviewer": review_model},
        "planningSpentUsd": float(swarm.cost_usd),
    }
