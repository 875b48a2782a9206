"""Issue 10, the Calls pages: a swarm's Claude calls and one call's conversation, rendered as
escaped text with tool calls and results as structured blocks; owner-only; read-only admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from swarms.models import Swarm
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm
from tests.helpers import admin_url
from tests.test_ui import Markup, assert_harmless, logged_in

pytestmark = pytest.mark.django_db

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
HOSTILE_FILE = f"<!doctype html><html><body>{SCRIPT}{IMG}</body></html>"


@pytest.fixture
def swarm(alice: Any) -> Swarm:
    return build_swarm(alice, agents=[("coder", "coder-one")], tasks=[{"name": f"Write {SCRIPT}"}])


@pytest.fixture
def hostile_call(swarm: Swarm) -> ClaudeCall:
    task = Task.objects.get(swarm=swarm)
    return ClaudeCall.objects.create(
        swarm=swarm,
        task=task,
        role="agent",
        model=f"claude-{SCRIPT}",
        outcome="ok",
        turn=3,
        input_tokens=50,
        output_tokens=20,
        cache_read_input_tokens=1500,
        error_type="",
        request={
            "model": "claude-sonnet-5-5",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": f"You code. {IMG}", "cache_control": {"type": "ephemeral"}}],
            "tools": [
                {"name": "write_file", "description": f"Write {SCRIPT}", "input_schema": {"type": "object"}}
            ],
            "messages": [
                {"role": "user", "content": f"# Your task\n{SCRIPT}"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": f"I'll write it {IMG}"},
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "write_file",
                            "input": {"path": "index.html", "content": HOSTILE_FILE},
                        },
                    ],
                },  # fmt: skip
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "is_error": True,
                            "content": f"path refused: {SCRIPT}",
                        },
                    ],
                },  # fmt: skip
            ],
        },
        trace_response={
            "content": [
                {"type": "text", "text": f"Done {IMG}"},
                {"type": "tool_use", "id": "toolu_2", "name": "submit_result", "input": {"summary": SCRIPT}},
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 50, "output_tokens": 20, "cache_read_input_tokens": 1500},
        },
        trace_truncated=True,
    )


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_swarm_page_links_to_its_calls(alice: Any, swarm: Swarm) -> None:
    html = page(logged_in(alice), f"/swarms/{swarm.id}")
    assert f'href="/swarms/{swarm.id}/calls"' in html


def test_the_calls_list_shows_each_call_escaped(alice: Any, swarm: Swarm, hostile_call: ClaudeCall) -> None:
    html = page(logged_in(alice), f"/swarms/{swarm.id}/calls")
    assert_harmless(html)
    assert SCRIPT not in html and "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    links = [a["href"] for a in Markup(html).named("a") if "call-link" in a.get("class", "")]
    assert links == [f"/swarms/{swarm.id}/calls/{hostile_call.id}"]
    assert "1500" in html  # cache read tokens


def test_the_calls_list_filters_by_task(alice: Any, swarm: Swarm, hostile_call: ClaudeCall) -> None:
    planner = ClaudeCall.objects.create(swarm=swarm, role="planner", model="m", outcome="ok")
    client = logged_in(alice)
    everything = page(client, f"/swarms/{swarm.id}/calls")
    only_task = page(client, f"/swarms/{swarm.id}/calls?task={hostile_call.task_id}")
    assert f'/calls/{planner.id}"' in everything and f'/calls/{planner.id}"' not in only_task
    assert f'/calls/{hostile_call.id}"' in only_task
    assert page(client, f"/swarms/{swarm.id}/calls?task=nonsense").count("call-link") == 2


def test_a_call_page_renders_hostile_content_as_text(
    alice: Any, swarm: Swarm, hostile_call: ClaudeCall
) -> None:
    html = page(logged_in(alice), f"/swarms/{swarm.id}/calls/{hostile_call.id}")
    assert_harmless(html)
    assert SCRIPT not in html and IMG not in html and "<!doctype html><html>" not in html.lower()[20:]
    markup = Markup(html)
    assert not [a for a in markup.named("img")]
    assert [s.get("src", "") for s in markup.named("script")] == ["/static/js/app.js"]
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert not [a for a in markup.named("ul") if "messages" in a.get("class", "")]  # no flash-message mix-up


def test_a_call_page_shows_tool_calls_and_results_as_structured_blocks(
    alice: Any, swarm: Swarm, hostile_call: ClaudeCall
) -> None:
    html = page(logged_in(alice), f"/swarms/{swarm.id}/calls/{hostile_call.id}")
    classes = [attrs.get("class", "") for _, attrs in Markup(html).tags]
    assert sum("trace-tool-use" in c for c in classes) == 2  # one in the request, one in the answer
    assert sum("trace-tool-result" in c and "trace-error" in c for c in classes) == 1
    assert "write_file" in html and "submit_result" in html and "is_error" in html
    assert "&quot;path&quot;: &quot;index.html&quot;" in html  # pretty JSON input, escaped
    assert "cache breakpoint" in html  # the system block marked with cache_control
    assert "TRACE_MAX_BYTES" in html  # the truncation notice
    assert "stop_reason" in html and "tool_use" in html


def test_a_call_without_a_trace_says_so(alice: Any, swarm: Swarm) -> None:
    call = ClaudeCall.objects.create(
        swarm=swarm, role="planner", model="m", outcome="ok", response={"text": "x"}
    )
    html = page(logged_in(alice), f"/swarms/{swarm.id}/calls/{call.id}")
    assert "No trace was stored" in html


def test_a_trace_too_large_to_keep_shows_its_note(alice: Any, swarm: Swarm) -> None:
    call = ClaudeCall.objects.create(
        swarm=swarm, role="agent", model="m", outcome="ok", trace_truncated=True,
        request={"truncated": "…[truncated 9999999 bytes]", "note": "too large to keep even with its text cut"},
    )  # fmt: skip
    html = page(logged_in(alice), f"/swarms/{swarm.id}/calls/{call.id}")
    assert "too large to keep" in html


def test_calls_pages_of_another_users_swarm_are_404(bob: Any, swarm: Swarm, hostile_call: ClaudeCall) -> None:
    client = logged_in(bob)
    assert client.get(f"/swarms/{swarm.id}/calls").status_code == 404
    assert client.get(f"/swarms/{swarm.id}/calls/{hostile_call.id}").status_code == 404


def test_a_call_of_another_swarm_or_a_bad_id_is_404(
    alice: Any, swarm: Swarm, hostile_call: ClaudeCall
) -> None:
    other = build_swarm(alice, tasks=[{"name": "Other"}])
    client = logged_in(alice)
    assert client.get(f"/swarms/{other.id}/calls/{hostile_call.id}").status_code == 404
    assert client.get(f"/swarms/{swarm.id}/calls/abc").status_code == 404


def test_calls_pages_need_a_login(client: Client, swarm: Swarm, hostile_call: ClaudeCall) -> None:
    response = client.get(f"/swarms/{swarm.id}/calls/{hostile_call.id}")
    assert response.status_code == 302 and "/login" in response["location"]


def test_the_admin_shows_the_trace_read_only_and_escaped(
    django_user_model: Any, swarm: Swarm, hostile_call: ClaudeCall
) -> None:
    client = logged_in(django_user_model.objects.create_superuser("root", "", "pw"))
    html = page(client, admin_url(hostile_call))
    assert SCRIPT not in html and "&lt;script&gt;window.__xss=1&lt;/script&gt;" in html
    assert 'name="request"' not in html and 'name="trace_response"' not in html  # no inputs
    assert "&quot;stop_reason&quot;: &quot;tool_use&quot;" in html  # pretty JSON
