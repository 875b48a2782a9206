"""Issue 10, prompt caching: the stable prefix carries cache_control, the fake Claude reports cache
tokens the way the API does, and the recorded calls and the swarm's spend price them."""

from __future__ import annotations

import copy
from decimal import Decimal

import anthropic
import pytest

from engine.claude import caching, client
from fakeclaude.cache import PromptCache
from swarms.models import Swarm
from swarms.services import swarm_start
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import wait_for_status

db = pytest.mark.django_db(transaction=True)

LONG = "Context that every call of the swarm repeats, word for word. " * 100  # ~6,000 chars ≈ 1,500 tokens
EPHEMERAL = {"type": "ephemeral"}


def marks(kwargs: dict) -> int:
    return caching.breakpoints(kwargs)


# --- where the breakpoints go ----------------------------------------------------------------


def test_the_system_prompt_becomes_a_cached_block(settings):
    settings.PROMPT_CACHING = True
    sent = caching.prepare({"system": "You code.", "messages": [{"role": "user", "content": "Do it"}]})
    assert sent["system"] == [{"type": "text", "text": "You code.", "cache_control": EPHEMERAL}]
    assert sent["messages"] == [{"role": "user", "content": "Do it"}]  # one forced answer: no tail mark


def test_a_tool_loop_conversation_marks_its_tail_without_touching_the_callers_messages(settings):
    settings.PROMPT_CACHING = True
    messages = [
        {"role": "user", "content": [caching.stable("# Objective\nX"), {"type": "text", "text": "task"}]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "read_file", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "file"}]},
    ]
    before = copy.deepcopy(messages)
    sent = caching.prepare({"system": "S", "messages": messages, "tools": [{"name": "read_file"}]})
    assert messages == before
    assert sent["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL
    assert marks(sent) == 3  # system, objective, tail


def test_never_more_than_four_breakpoints(settings):
    settings.PROMPT_CACHING = True
    content = [caching.stable(f"part {i}") for i in range(3)] + [{"type": "text", "text": "rest"}]
    sent = caching.prepare({"system": "S", "messages": [{"role": "user", "content": content}] * 2})
    assert marks(sent) == 4
    assert marks({"messages": sent["messages"][1:]}) == 3  # the latest marks stay
    three = caching.prepare(
        {"system": "S", "messages": [{"role": "user", "content": content}, {"role": "user", "content": "x"}]}
    )
    assert marks(three) == 4 and isinstance(three["messages"][-1]["content"], str)  # no room for the tail


def test_prompt_caching_off_sends_no_breakpoint_at_all(settings):
    settings.PROMPT_CACHING = False
    messages = [
        {"role": "user", "content": [caching.stable("# Objective\nX"), {"type": "text", "text": "t"}]}
    ]
    sent = caching.prepare({"system": "S", "messages": messages, "tools": [{"name": "x"}]})
    assert marks(sent) == 0 and sent["system"] == "S"
    assert sent["messages"][0]["content"][0] == {"type": "text", "text": "# Objective\nX"}
    assert "cache_control" in messages[0]["content"][0]  # the caller's copy is untouched


# --- the fake reports cache tokens like the API ----------------------------------------------


def sdk(fake) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url=fake.url, max_retries=0)


def ask(fake, system, messages, model="claude-sonnet-5-5"):
    return sdk(fake).messages.create(model=model, max_tokens=64, system=system, messages=messages).usage


def cached_system(text: str = LONG) -> list[dict]:
    return [{"type": "text", "text": text, "cache_control": EPHEMERAL}]


def test_a_repeated_prefix_is_written_once_then_read(fake_claude):
    first = ask(fake_claude, cached_system(), [{"role": "user", "content": "Task one"}])
    second = ask(fake_claude, cached_system(), [{"role": "user", "content": "Task two, longer"}])
    prefix = -(-len(LONG) // 4)
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (prefix, 0)
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (0, prefix)
    assert 0 < second.input_tokens < 20  # only what follows the prefix


def test_a_prefix_below_the_models_minimum_is_not_cached(fake_claude):
    short = cached_system("You write code. " * 20)  # ~80 tokens
    for _ in range(2):
        usage = ask(fake_claude, short, [{"role": "user", "content": "Task"}])
        assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
    haiku = cached_system(LONG)  # ~1,500 tokens: above Sonnet's 1,024, below Haiku's 2,048
    usage = ask(fake_claude, haiku, [{"role": "user", "content": "Task"}], model="claude-haiku-5-5")
    assert usage.cache_creation_input_tokens == 0


def test_a_different_prefix_or_model_misses(fake_claude):
    ask(fake_claude, cached_system(), [{"role": "user", "content": "Task"}])
    other = ask(fake_claude, cached_system(LONG + "!"), [{"role": "user", "content": "Task"}])
    opus = ask(fake_claude, cached_system(), [{"role": "user", "content": "Task"}], model="claude-opus-5-5")
    assert other.cache_read_input_tokens == 0 and other.cache_creation_input_tokens > 0
    assert opus.cache_read_input_tokens == 0


def test_an_entry_expires_five_minutes_after_its_last_use(fake_claude):
    now = [1000.0]
    fake_claude.prompt_cache = PromptCache(clock=lambda: now[0])
    try:
        ask(fake_claude, cached_system(), [{"role": "user", "content": "Task"}])
        now[0] += 299
        assert ask(fake_claude, cached_system(), [{"role": "user", "content": "T"}]).cache_read_input_tokens
        now[0] += 299  # a read refreshed it
        assert ask(fake_claude, cached_system(), [{"role": "user", "content": "T"}]).cache_read_input_tokens
        now[0] += 301
        usage = ask(fake_claude, cached_system(), [{"role": "user", "content": "T"}])
        assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens > 0) == (0, True)
    finally:
        fake_claude.prompt_cache = PromptCache()


def test_the_next_turn_reads_the_previous_turns_whole_prompt(fake_claude):
    turn_one = [{"role": "user", "content": [{"type": "text", "text": LONG, "cache_control": EPHEMERAL}]}]
    first = ask(fake_claude, "S", turn_one)
    turn_two = [
        {"role": "user", "content": [{"type": "text", "text": LONG}]},
        {"role": "assistant", "content": "I read it."},
        {"role": "user", "content": [{"type": "text", "text": "More " * 50, "cache_control": EPHEMERAL}]},
    ]
    second = ask(fake_claude, "S", turn_two)
    assert first.cache_creation_input_tokens > 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens  # found 2 blocks back
    assert second.cache_creation_input_tokens > 0  # and the new tail is written for the turn after


def test_more_than_four_breakpoints_is_refused_like_the_api(fake_claude):
    content = [{"type": "text", "text": f"part {i}", "cache_control": EPHEMERAL} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks"):
        ask(fake_claude, "S", [{"role": "user", "content": content}])


# --- end to end: engine → SDK → fake → recorded call → cost ------------------------------------


def run_chain(alice, fake, objective: str) -> Swarm:
    """Two tasks of one agent type, one after the other: the second sees the first's cache. Each
    answers in plain text: one call a task, with or without workspace tools."""
    for name in ("First part", "Second part"):
        fake.enqueue({"text": f"## {name}\nDone."}, match=f"# Your task: {name}")
    swarm = build_swarm(
        alice,
        objective=objective,
        options={"review": False},
        tasks=[{"name": "First part"}, {"name": "Second part", "depends_on": [0]}],
    )
    swarm_start(swarm_id=swarm.id)
    assert wait_for_status(swarm.id, "completed", "failed", timeout=30) == "completed"
    return Swarm.objects.get(pk=swarm.id)


def agent_calls(swarm: Swarm) -> list[ClaudeCall]:
    return list(ClaudeCall.objects.filter(swarm=swarm, role="agent", outcome="ok").order_by("id"))


@db
def test_cache_tokens_are_recorded_priced_and_added_to_the_spend(workers, fake_claude, alice, settings):
    settings.PROMPT_CACHING = True
    swarm = run_chain(alice, fake_claude, "Build the thing described here. " + LONG)
    first, second = agent_calls(swarm)
    objective_prefix = -(-len(LONG) // 4)
    assert first.cache_creation_input_tokens > objective_prefix and first.cache_read_input_tokens == 0
    # the system prompt and the objective (with the tools, if any, before them) are read back
    assert second.cache_read_input_tokens > objective_prefix
    assert second.cache_read_input_tokens <= first.cache_creation_input_tokens
    price_in, price_out = (Decimal(str(p)) for p in client.price_of(second.model))
    expected = (
        Decimal(second.input_tokens) * price_in
        + Decimal(second.cache_creation_input_tokens) * price_in * Decimal("1.25")
        + Decimal(second.cache_read_input_tokens) * price_in * Decimal("0.1")
        + Decimal(second.output_tokens) * price_out
    ) / Decimal(1_000_000)
    assert second.cost_usd == expected.quantize(Decimal("0.000001"))
    assert first.trace_response["usage"]["cache_creation_input_tokens"] == first.cache_creation_input_tokens
    assert first.request["system"][-1]["cache_control"] == EPHEMERAL  # the trace shows the breakpoints
    calls = ClaudeCall.objects.filter(swarm=swarm)
    assert swarm.input_tokens == sum(
        c.input_tokens + c.cache_read_input_tokens + c.cache_creation_input_tokens for c in calls
    )
    assert swarm.cost_usd == sum(c.cost_usd for c in calls)
    task = Task.objects.get(pk=second.task_id)
    assert task.input_tokens == (
        second.input_tokens + second.cache_read_input_tokens + second.cache_creation_input_tokens
    )
    assert task.cost_usd == second.cost_usd


@db
def test_caching_makes_the_same_swarm_cheaper(workers, fake_claude, alice, settings):
    settings.PROMPT_CACHING = True
    cached = run_chain(alice, fake_claude, "Build the thing described here. " + LONG)
    fake_claude.reset()
    settings.PROMPT_CACHING = False
    plain = run_chain(alice, fake_claude, "Build the thing described here. " + LONG)
    assert not [r for r in fake_claude.requests if "cache_control" in str(r["body"])]
    assert not ClaudeCall.objects.filter(swarm=plain, cache_read_input_tokens__gt=0).exists()
    assert cached.cost_usd < plain.cost_usd
