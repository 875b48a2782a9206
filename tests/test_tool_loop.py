"""An agent's task as a tool loop over the swarm's workspace (issue 10): files written with
versions, dependents reading them, every tool's errors given back to Claude, and the loop's
bounds (TASK_MAX_TURNS, the budget, a stop) holding mid-loop."""

from __future__ import annotations

import time
from typing import Any

import pytest

from engine import tools
from swarms.models import Swarm
from swarms.services import swarm_start, swarm_stop
from tasks.models import ClaudeCall, Task
from tests.builders import build_swarm, stored_answer
from tests.helpers import wait_for, wait_for_status
from workspaces import services as workspace

pytestmark = pytest.mark.django_db(transaction=True)


def one_task(alice, description="Write the expression parser", agent="coder", **options):
    return build_swarm(
        alice,
        agents=[(agent, f"{agent}-one")],
        options={"review": False, **options},
        tasks=[{"name": "Parse expressions", "description": description}],
    )


def agent_calls(task: Task):
    return ClaudeCall.objects.filter(task=task, role="agent").order_by("id")


def turn_requests(fake, task_name: str, turn: int) -> list[dict[str, Any]]:
    """The fake's requests of one task's turn (turn n carries n-1 tool_result messages)."""
    mine = [r for r in fake.requests if f"# Your task: {task_name}" in r["text"]]
    return [r for r in mine if len(r["body"]["messages"]) == 2 * turn - 1]


def tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    return request["body"]["messages"][-1]["content"]


# --- end to end ---------------------------------------------------------------------------------


def test_a_task_writes_its_files_through_the_tool_loop(workers, fake_claude, alice):
    swarm = one_task(alice)
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    task = Task.objects.get(swarm=swarm)
    files = {f.path: f for f in workspace.file_list(swarm_id=swarm.id)}
    assert set(files) == {"src/parse_expressions.py", "docs/parse_expressions.md"}
    code = files["src/parse_expressions.py"]
    assert code.version == 1 and "expression parser" in code.content and code.size == len(code.content)
    calls = list(agent_calls(task))
    assert [(c.turn, c.outcome) for c in calls] == [(1, "ok"), (2, "ok")]
    assert calls[0].response["stop_reason"] == "tool_use"
    assert not any(r.get("is_error") for r in calls[0].response["tool_results"])
    assert task.output.startswith("Done: wrote src/parse_expressions.py")
    # turn 2 was sent turn 1's answer and its tool results, the read among them
    [second] = turn_requests(fake_claude, "Parse expressions", 2)
    assert tool_results(second)[2]["content"] == code.content
    # the prompt told Claude about the tools and the (then empty) workspace
    [first] = turn_requests(fake_claude, "Parse expressions", 1)
    assert "# Workspace files\n(empty)" in first["text"]
    assert {t["name"] for t in first["body"]["tools"]} == set(tools.DECLARATIONS)


def test_the_reviewer_reads_the_files_the_task_wrote(workers, fake_claude, alice):
    swarm = one_task(alice, review=True)
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    code = workspace.file_read(swarm_id=swarm.id, path="src/parse_expressions.py")
    [review] = [r for r in fake_claude.requests if "# Result to review" in r["text"]]
    files = review["text"].split("# Files the task wrote (latest versions)\n", 1)[1]
    assert "## docs/parse_expressions.md (version 1)" in files
    assert f"## src/parse_expressions.py (version 1)\n```\n{code.content}\n```" in files


def test_a_dependent_task_reads_the_file_its_dependency_wrote(workers, fake_claude, alice):
    swarm = build_swarm(
        alice,
        agents=[("coder", "coder-one"), ("reviewer", "reviewer-one")],
        options={"review": False},
        tasks=[
            {"name": "Build lexer", "description": "Write the lexer", "agent_type": "coder"},
            {
                "name": "Review lexer",
                "description": "Review the lexer",
                "agent_type": "reviewer",
                "capabilities": ["codeReview", "analysis"],
                "depends_on": [0],
            },
        ],
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    [first] = turn_requests(fake_claude, "Review lexer", 1)
    assert "- docs/build_lexer.md (" in first["text"] and "- src/build_lexer.py (" in first["text"]
    assert {t["name"] for t in first["body"]["tools"]} == {
        "list_files",
        "read_file",
        "search_files",
        "submit_result",
    }  # a reviewer reads
    [second] = turn_requests(fake_claude, "Review lexer", 2)
    listed, read = tool_results(second)
    assert "src/build_lexer.py" in listed["content"]
    notes = workspace.file_read(swarm_id=swarm.id, path="docs/build_lexer.md")
    assert read["content"] == notes.content and "is_error" not in read
    assert len(workspace.file_list(swarm_id=swarm.id)) == 2  # the reviewer wrote nothing


# --- tool errors come back to Claude ------------------------------------------------------------


@pytest.fixture
def context(alice):
    swarm = one_task(alice)
    task = Task.objects.get(swarm=swarm)
    return tools.Context(swarm_id=swarm.id, task_id=task.id, call_id=None, allowed=tuple(tools.DECLARATIONS))


def run(context, name, n=[0], **tool_input):  # noqa: B006 — a counter for unique tool_use ids
    n[0] += 1
    return tools.run({"type": "tool_use", "id": f"toolu_{n[0]}", "name": name, "input": tool_input}, context)


@pytest.mark.parametrize(
    ("name", "tool_input", "says"),
    [
        ("read_file", {"path": "missing.py"}, "missing.py"),
        ("read_file", {"path": "../etc/passwd"}, ""),
        ("read_file", {"path": "a.py", "version": "two"}, "version"),
        ("read_file", {}, "path"),
        ("write_file", {"path": "../escape.py", "content": "x"}, ""),
        ("write_file", {"path": "/etc/passwd", "content": "x"}, ""),
        ("write_file", {"path": "a.py"}, "content"),
        ("write_file", {"path": "a.py", "content": 12}, "content"),
        ("edit_file", {"path": "missing.py", "old": "a", "new": "b"}, "missing.py"),
        ("edit_file", {"path": "a.py", "old": "x"}, "new"),
        ("search_files", {"pattern": ""}, ""),
        ("search_files", {"pattern": "(", "regex": True}, ""),
        ("search_files", {"pattern": "a", "regex": "yes"}, "regex"),
        ("submit_result", {"summary": "  "}, "summary"),
        ("submit_result", {}, "summary"),
        ("delete_everything", {}, "does not exist"),
        ("write_file", {"_invalid_json": '{"path": "a'}, "not valid JSON"),
    ],
)
def test_every_tools_errors_are_error_results(context, name, tool_input, says):
    result = run(context, name, **tool_input)
    assert result["is_error"] is True and result["type"] == "tool_result"
    assert isinstance(result["content"], str) and says in result["content"]


def test_edit_errors_when_the_text_is_absent_or_not_unique(context):
    assert "is_error" not in run(context, "write_file", path="a.py", content="x = 1\nx = 1\n")
    assert run(context, "edit_file", path="a.py", old="y = 2", new="z")["is_error"]
    assert run(context, "edit_file", path="a.py", old="x = 1", new="z")["is_error"]
    edited = run(context, "edit_file", path="a.py", old="x = 1\nx = 1", new="x = 2")
    assert edited["content"] == "Edited a.py (version 2, 6 bytes)."


def test_a_tool_the_agent_type_lacks_is_an_error(context):
    context.allowed = ("list_files", "read_file", "search_files", "submit_result")
    result = run(context, "write_file", path="a.py", content="x")
    assert result["is_error"] and "not available to this agent" in result["content"]
    assert workspace.file_list(swarm_id=context.swarm_id) == []


def test_working_tools_answer_in_plain_sentences(context):
    assert run(context, "list_files")["content"] == "The workspace is empty."
    assert run(context, "write_file", path="src/a.py", content="print(1)\n")["content"] == (
        "Wrote src/a.py (version 1, 9 bytes)."
    )
    assert run(context, "read_file", path="src/a.py")["content"] == "print(1)\n"
    assert run(context, "list_files")["content"] == "src/a.py  (9 bytes, version 1)"
    assert run(context, "search_files", pattern="print")["content"] == "src/a.py:1: print(1)"
    assert run(context, "search_files", pattern="nothing")["content"] == "No matches for 'nothing'."


@pytest.mark.parametrize(
    ("directive", "says"),
    [
        ("[[fake:tool-bad-path]]", ""),
        ("[[fake:tool-huge]]", "bytes"),
        ("[[fake:tool-unknown]]", "does not exist"),
    ],
)
def test_tool_misuse_is_given_back_to_claude_and_the_task_still_completes(
    workers, fake_claude, alice, directive, says
):
    swarm = one_task(alice, f"Write the expression parser {directive}")
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    assert workspace.file_list(swarm_id=swarm.id) == []  # nothing escaped, nothing too large stored
    [second] = turn_requests(fake_claude, "Parse expressions", 2)
    results = tool_results(second)
    assert results and all(r["is_error"] is True for r in results)
    assert all(says in r["content"] for r in results)
    task = Task.objects.get(swarm=swarm)
    assert f"{len(results)} tool call(s) failed" in task.output


# --- the loop's bounds ----------------------------------------------------------------------------


def test_a_task_that_never_submits_fails_after_task_max_turns(workers, fake_claude, alice, settings):
    settings.TASK_MAX_TURNS = 3
    swarm = one_task(alice, "Write the expression parser [[fake:tool-loop]]")
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "failed", "completed")
    task = Task.objects.get(swarm=swarm)
    assert task.status == "failed" and task.failure_reason == "max_turns"
    assert "3 turns (TASK_MAX_TURNS)" in task.error
    assert [c.turn for c in agent_calls(task)] == [1, 2, 3]


def test_the_budget_stops_a_loop_between_turns(workers, fake_claude, alice):
    swarm = one_task(
        alice,
        "Write the expression parser [[fake:tool-loop]] [[fake:tokens=400]]",
        budget={"maxTokens": 3000},
    )
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "failed")
    swarm.refresh_from_db()
    assert swarm.failure_reason == "budget_exhausted"
    task = Task.objects.get(swarm=swarm)
    turns = [c.turn for c in agent_calls(task).filter(outcome="ok")]
    assert len(turns) >= 2 and turns == list(range(1, len(turns) + 1))  # it got into the loop
    assert not agent_calls(task).filter(turn__gt=len(turns) + 1).exists()  # and no further


def test_stop_mid_loop_ends_the_task_within_5_seconds(workers, fake_claude, alice):
    swarm = one_task(alice, "Write the expression parser [[fake:tool-loop]] [[fake:slow=200]]")
    swarm_start(swarm_id=swarm.id)
    task = Task.objects.get(swarm=swarm)
    wait_for(lambda: agent_calls(task).filter(turn=2).exists(), timeout=30, message="turn 2")
    stopped_at = time.monotonic()
    swarm_stop(swarm_id=swarm.id)
    wait_for(lambda: Task.objects.get(pk=task.id).status == "cancelled", timeout=5)
    wait_for(lambda: not agent_calls(task).filter(outcome="started").exists(), timeout=5)
    assert time.monotonic() - stopped_at < 5
    assert Swarm.objects.get(pk=swarm.id).status == "stopped"
    requests = len(fake_claude.requests)
    time.sleep(1)
    assert len(fake_claude.requests) == requests  # no turn after the stop


# --- exactly once ---------------------------------------------------------------------------------


def crashed_after_turn_one(alice, *, with_results: bool):
    """A swarm whose first run got turn 1's answer (write src/a.py, read it back), wrote the file,
    and died (with or without having stored the turn's tool results)."""
    swarm = one_task(alice)
    task = Task.objects.get(swarm=swarm)
    workspace.file_write(
        swarm_id=swarm.id, path="src/a.py", content="v1", task_id=task.id, tool_use_id="toolu_pre_1"
    )
    content = [
        {"type": "text", "text": "I will write and read."},
        {
            "type": "tool_use",
            "id": "toolu_pre_1",
            "name": "write_file",
            "input": {"path": "src/a.py", "content": "v1"},
        },
        {"type": "tool_use", "id": "toolu_pre_2", "name": "read_file", "input": {"path": "src/a.py"}},
    ]
    response = {
        "text": "I will write and read.",
        "tool_input": content[1]["input"],
        "tool_use_id": "toolu_pre_1",
        "content": content,
        "stop_reason": "tool_use",
    }
    if with_results:
        response["tool_results"] = [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_pre_1",
                "content": "Wrote src/a.py (version 1, 2 bytes).",
            },
            {"type": "tool_result", "tool_use_id": "toolu_pre_2", "content": "v1"},
        ]
    stored_answer(task, response)
    Task.objects.filter(pk=task.id).update(attempts=1)  # the crashed run had claimed it once
    return swarm, task, content


def test_a_rerun_replays_stored_tool_results_instead_of_running_the_tools(workers, fake_claude, alice):
    swarm, task, content = crashed_after_turn_one(alice, with_results=True)
    workspace.file_write(swarm_id=swarm.id, path="src/a.py", content="v2")  # changed since
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    [second] = fake_claude.requests  # turn 1 was not asked again
    assert second["body"]["messages"][1] == {"role": "assistant", "content": content}
    replayed = tool_results(second)
    assert [r["content"] for r in replayed] == ["Wrote src/a.py (version 1, 2 bytes).", "v1"]  # not "v2"
    assert [f.version for f in workspace.file_history(swarm_id=swarm.id, path="src/a.py")] == [1, 2]
    assert [(c.turn, c.outcome) for c in agent_calls(task)] == [(1, "ok"), (2, "ok")]


def test_a_rerun_after_the_answer_but_before_its_tool_results_writes_once(workers, fake_claude, alice):
    swarm, task, _ = crashed_after_turn_one(alice, with_results=False)
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    [second] = fake_claude.requests
    ran = tool_results(second)
    assert [r["content"] for r in ran] == ["Wrote src/a.py (version 1, 2 bytes).", "v1"]
    assert [f.version for f in workspace.file_history(swarm_id=swarm.id, path="src/a.py")] == [1]
    sent = [{k: v for k, v in r.items() if k != "cache_control"} for r in ran]  # cache marks aside
    assert agent_calls(task).get(turn=1).response["tool_results"] == sent  # stored for a later re-run


def test_a_plain_text_answer_still_ends_the_task(workers, fake_claude, alice):
    fake_claude.enqueue({"text": "## Plain\nNo tools needed."})
    swarm = one_task(alice)
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    task = Task.objects.get(swarm=swarm)
    assert task.output == "## Plain\nNo tools needed."
    assert [c.turn for c in agent_calls(task)] == [1]


def test_the_task_timeout_ends_a_loop_between_or_during_turns(workers, fake_claude, alice, settings):
    settings.TASK_TIMEOUT_MINUTES = 0.05  # 3 s; a turn takes ~1 s
    swarm = one_task(alice, "Write the expression parser [[fake:tool-loop]] [[fake:slow=400]]")
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "failed", "completed", timeout=30)
    task = Task.objects.get(swarm=swarm)
    assert (task.status, task.failure_reason) == ("failed", "timeout")
    assert agent_calls(task).filter(outcome="ok").count() >= 2  # it was mid-loop
    assert not agent_calls(task).filter(outcome="started").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "TASK_MAX_TURNS must be at least 1"), ("many", "TASK_MAX_TURNS must be an integer")],
)
def test_a_bad_task_max_turns_stops_start_up(value, message):
    from tests.test_config import test_a_bad_value_stops_start_up_with_one_line as check

    check("TASK_MAX_TURNS", value, message)


def test_the_results_list_the_workspace_files_as_the_swarms_artifacts(workers, fake_claude, alice):
    from tests.conftest import client_for

    swarm = one_task(alice)
    swarm_start(swarm_id=swarm.id)
    wait_for_status(swarm.id, "completed")
    task = Task.objects.get(swarm=swarm)
    body = client_for(alice).get(f"/api/swarm/{swarm.id}/results").json()
    files = {f["path"]: f for f in body["results"]["workspace"]}
    assert set(files) == {"src/parse_expressions.py", "docs/parse_expressions.md"}
    assert all(f["taskId"] == task.id and f["version"] == 1 and f["size"] > 0 for f in files.values())
