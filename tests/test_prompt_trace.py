"""Issue 10, prompt trace: every Claude call keeps its request and response, capped in size, unless
STORE_PROMPTS is off; the answer a re-run reuses is kept whole either way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.claude import trace
from swarms.services import swarm_start
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import wait_for_status

db = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent


ANSWER = "## Parser\n\nDone: it reads <b>dates</b> & times."


def run_one(alice, description: str, fake=None, **options) -> Task:
    """One task whose agent answers ANSWER in plain text (one call, with or without workspace tools)."""
    if fake is not None:
        fake.enqueue({"text": ANSWER}, match="# Your task: The task")
    swarm = build_swarm(
        alice, tasks=[{"name": "The task", "description": description}], options={"review": False, **options}
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed", "failed", timeout=30)
    return Task.objects.get(swarm=swarm)


def agent_call(task: Task) -> ClaudeCall:
    return ClaudeCall.objects.get(task=task, role="agent", outcome="ok")


# --- capture ----------------------------------------------------------------------------------


@db
def test_a_call_keeps_its_request_as_sent_and_its_response_as_received(workers, fake_claude, alice):
    task = run_one(alice, "Write the parser for <b>dates</b>", fake_claude)
    call = agent_call(task)
    body = next(r["body"] for r in fake_claude.requests if "# Your task: The task" in r["text"])
    assert call.request["model"] == body["model"] == call.model
    assert call.request["max_tokens"] == body["max_tokens"]
    assert call.request["system"] == body["system"]
    assert call.request["messages"] == body["messages"]
    assert "Write the parser for <b>dates</b>" in json.dumps(call.request["messages"])
    response = call.trace_response
    assert response["stop_reason"] == "end_turn"
    assert [block["type"] for block in response["content"]] == ["text"]
    assert response["content"][0]["text"] == ANSWER
    assert response["usage"]["input_tokens"] == call.input_tokens
    assert response["usage"]["output_tokens"] == call.output_tokens
    assert call.trace_truncated is False
    assert call.response["text"] == ANSWER  # the reuse answer, unchanged


@db
def test_a_forced_tool_call_is_traced_as_a_tool_use_block(workers, fake_claude, alice):
    task = run_one(alice, "Write the parser", fake_claude, review=True)
    review = ClaudeCall.objects.filter(task=task, role="reviewer", outcome="ok").first()
    assert review is not None
    assert review.request["tool_choice"]["type"] == "tool"
    assert [tool["name"] for tool in review.request["tools"]] == ["submit_review"]
    (block,) = [b for b in review.trace_response["content"] if b["type"] == "tool_use"]
    assert block["name"] == "submit_review" and "score" in block["input"]
    assert review.trace_response["stop_reason"] == "tool_use"


@db
def test_a_failed_attempt_keeps_its_request_and_no_response(workers, fake_claude, alice):
    task = run_one(alice, "Write the parser [[fake:529x1,retry_ms=10]]", fake_claude)
    failed = ClaudeCall.objects.filter(task=task, role="agent", outcome="error").first()
    assert failed is not None and failed.request["messages"]
    assert failed.trace_response is None


# --- size cap ---------------------------------------------------------------------------------


@db
def test_a_trace_past_trace_max_bytes_is_cut_with_a_marker(workers, fake_claude, alice, settings):
    settings.TRACE_MAX_BYTES = 4096
    task = run_one(alice, "Write the parser. " + "x" * 20_000, fake_claude)
    call = agent_call(task)
    assert task.status == "completed"
    assert call.trace_truncated is True
    assert trace.size_of(call.request) <= 4096
    text = json.dumps(call.request["messages"], ensure_ascii=False)
    assert "…[truncated " in text and "x" * 20_000 not in text
    assert call.request["messages"][0]["role"] == "user"  # structure survives
    assert call.request["model"] == call.model
    assert call.response["text"] == ANSWER  # the reuse answer is never cut


def test_capped_cuts_the_longest_strings_to_one_length_and_counts_the_bytes_lost():
    value = {"short": "keep me", "long": "é" * 5000, "longer": ["a" * 9000], "n": 12345}
    cut, truncated = trace.capped(value, 2000)
    assert truncated and trace.size_of(cut) <= 2000
    assert cut["short"] == "keep me" and cut["n"] == 12345
    kept_long, marker_long = cut["long"].split("…[truncated ")
    kept_longer, marker_longer = cut["longer"][0].split("…[truncated ")
    assert len(kept_long) == len(kept_longer)  # one water level
    assert marker_long == f"{(5000 - len(kept_long)) * 2} bytes]"  # é is two bytes
    assert marker_longer == f"{9000 - len(kept_longer)} bytes]"


def test_capped_leaves_a_trace_that_fits_untouched():
    value = {"messages": [{"role": "user", "content": "hi"}]}
    assert trace.capped(value, 1024) == (value, False)


def test_a_trace_whose_structure_alone_is_too_big_becomes_a_note():
    value = {"messages": [{"role": "user", "content": "hi"}] * 500}
    cut, truncated = trace.capped(value, 1024)
    assert truncated and "too large" in cut["note"] and trace.size_of(cut) <= 1024


# --- STORE_PROMPTS=false ----------------------------------------------------------------------


@db
def test_store_prompts_off_keeps_no_trace_but_the_reuse_answer(workers, fake_claude, alice, settings):
    settings.STORE_PROMPTS = False
    task = run_one(alice, "Write the parser", fake_claude)
    call = agent_call(task)
    assert task.status == "completed"
    assert (call.request, call.trace_response, call.trace_truncated) == (None, None, False)
    assert call.response["text"] == ANSWER
    assert not ClaudeCall.objects.filter(swarm=task.swarm).exclude(request=None).exists()


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TRACE_MAX_BYTES", "100", "TRACE_MAX_BYTES must be at least 1024"),
        ("TRACE_MAX_BYTES", "1MB", "TRACE_MAX_BYTES must be an integer"),
        ("STORE_PROMPTS", "sometimes", "STORE_PROMPTS must be true or false"),
        ("PROMPT_CACHING", "maybe", "PROMPT_CACHING must be true or false"),
    ],
)
def test_a_bad_trace_or_caching_setting_stops_start_up_with_one_line(variable, value, message):
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "s" * 50,
        "ANTHROPIC_API_KEY": "k",
        "DJANGO_SETTINGS_MODULE": "claudeflow_site.settings",
        variable: value,
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: ") and message in lines[0]


@pytest.mark.django_db
def test_traces_older_than_the_retention_are_cleared_and_the_rest_kept(alice, settings):
    from datetime import timedelta

    from django.utils import timezone

    swarm = build_swarm(alice)
    sent, received = {"messages": [{"role": "user", "content": "hi"}]}, {"content": [], "usage": {}}
    old, new = (
        ClaudeCall.objects.create(
            swarm=swarm,
            role="agent",
            model="m",
            outcome="ok",
            request=sent,
            trace_response=received,
            response={"text": "reusable"},
            input_tokens=7,
        )  # fmt: skip
        for _ in range(2)
    )
    ClaudeCall.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    settings.TRACE_RETENTION_DAYS = 0
    assert trace.prune_old(force=True) == 0  # 0 keeps every trace
    settings.TRACE_RETENTION_DAYS = 30
    assert trace.prune_old(force=True) == 1
    old.refresh_from_db(), new.refresh_from_db()
    assert (old.request, old.trace_response) == (None, None)
    assert old.response == {"text": "reusable"} and old.input_tokens == 7  # the record and the answer stay
    assert (new.request, new.trace_response) == (sent, received)
    assert trace.prune_old() == 0  # not again within the hour
