"""The Calls pages: a swarm's Claude calls, and one call's conversation as it was sent and received.

Everything in a trace is untrusted (prompts quote user input, answers are model output): the
templates show it as escaped text, never as HTML, and tool calls and results as structured blocks
with their JSON pretty-printed. No script runs on these pages; <details> folds the long parts.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from core.errors import NotFound
from swarms import calls
from tasks.models import Task
from ui.views import usd_text, visible_swarm

CALLS_PAGE_SIZE = 50


@login_required
@require_safe
def call_list(request: HttpRequest, swarm_id: str) -> HttpResponse:
    swarm = visible_swarm(request.user, swarm_id)
    tasks = list(Task.objects.filter(swarm=swarm).order_by("sequence").values_list("id", "sequence", "name"))
    task_id = request.GET.get("task") or None
    if task_id not in {t[0] for t in tasks}:
        task_id = None
    rows = calls.calls_of(swarm, task_id=task_id).select_related("task")
    page = Paginator(rows, CALLS_PAGE_SIZE).get_page(request.GET.get("page"))
    totals = rows.aggregate(
        count=Count("id"),
        input=Sum("input_tokens"),
        output=Sum("output_tokens"),
        cache_read=Sum("cache_read_input_tokens"),
        cache_creation=Sum("cache_creation_input_tokens"),
        cost=Sum("cost_usd"),
    )
    context = {
        "swarm": swarm,
        "page": page,
        "tasks": [{"id": t[0], "label": f"{t[1]}. {t[2]}"} for t in tasks],
        "task_id": task_id,
        "totals": {**totals, "cost_text": usd_text(float(totals["cost"] or 0))},
    }
    return render(request, "ui/calls.html", context)


@login_required
@require_safe
def call_detail(request: HttpRequest, swarm_id: str, call_id: str) -> HttpResponse:
    swarm = visible_swarm(request.user, swarm_id)
    try:
        call = calls.call_of(swarm, call_id)
    except NotFound:
        raise Http404("Call not found") from None
    sent = call.request if isinstance(call.request, dict) else None
    received = call.trace_response if isinstance(call.trace_response, dict) else None
    context = {
        "swarm": swarm,
        "call": call,
        "cost_text": usd_text(float(call.cost_usd)),
        "sent": sent is not None,
        "system": blocks_of(sent.get("system")) if sent else [],
        "tools": [tool_view(tool) for tool in _list(sent.get("tools"))] if sent else [],
        "tool_choice": pretty(sent["tool_choice"]) if sent and "tool_choice" in sent else "",
        # not "messages": base.html shows the flash messages under that name
        "conversation": [message_view(m) for m in _list(sent.get("messages"))] if sent else [],
        "note": sent.get("note", "") if sent else "",
        "received": received is not None,
        "answer": blocks_of(received.get("content")) if received else [],
        "stop_reason": received.get("stop_reason") if received else None,
        "usage": pretty(received.get("usage")) if received else "",
        "raw_request": pretty(call.request) if call.request is not None else "",
        "raw_response": pretty(call.trace_response) if call.trace_response is not None else "",
    }
    return render(request, "ui/call.html", context)


# --- a trace as blocks the template shows ----------------------------------------------------


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def message_view(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict):
        return {"role": "?", "blocks": [{"kind": "other", "json": pretty(message)}]}
    return {"role": str(message.get("role", "?")), "blocks": blocks_of(message.get("content"))}


def blocks_of(content: Any) -> list[dict[str, Any]]:
    """Message or system content (a string or a list of blocks) as the template's blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"kind": "text", "text": content}]
    return [block_view(block) for block in _list(content)] or [{"kind": "other", "json": pretty(content)}]


def block_view(block: Any) -> dict[str, Any]:
    if not isinstance(block, dict):
        return {"kind": "other", "json": pretty(block)}
    cached = isinstance(block.get("cache_control"), dict)
    kind = block.get("type")
    if kind == "text":
        return {"kind": "text", "text": str(block.get("text", "")), "cached": cached}
    if kind == "tool_use":
        return {
            "kind": "tool_use",
            "name": str(block.get("name", "")),
            "id": str(block.get("id", "")),
            "input": pretty(block.get("input", {})),
            "cached": cached,
        }
    if kind == "tool_result":
        result = block.get("content", "")
        return {
            "kind": "tool_result",
            "id": str(block.get("tool_use_id", "")),
            "is_error": bool(block.get("is_error", False)),
            "blocks": blocks_of(result) if result != "" else [],
            "cached": cached,
        }
    return {"kind": "other", "json": pretty(block), "cached": cached}


def tool_view(tool: Any) -> dict[str, Any]:
    if not isinstance(tool, dict):
        return {"name": "?", "description": "", "schema": pretty(tool)}
    return {
        "name": str(tool.get("name", "")),
        "description": str(tool.get("description", "")),
        "schema": pretty(tool.get("input_schema", {})),
        "cached": isinstance(tool.get("cache_control"), dict),
    }
