"""What each task's Claude conversation says, and the reviewer's structured-output tool."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db.models import OuterRef

from agents.registry import AgentSpec, get_agent_type
from agents.selectors import agent_type_for, agent_type_from_row, agent_type_row
from engine.claude.caching import stable
from tasks.models import Task
from workspaces import services as workspace

logger = logging.getLogger(__name__)
# the claim reads the task's agent type in its own query (see agent_spec)
AGENT_TYPE_ROW = agent_type_row(OuterRef("swarm__owner_id"), OuterRef("assigned_agent__type"))
REVIEW_TOOL_NAME = "submit_review"
WORKSPACE_LISTED = 200  # files named in a task's prompt; list_files shows them all
WITH_TOOLS = (
    " You work in the swarm's shared workspace of text files through your tools: look at what is "
    "there, write or edit files with your work (relative paths such as src/app.py), and finish by "
    "calling submit_result with a short summary of what you did and which files you wrote."
)
WITHOUT_TOOLS = (
    " When you write files, put each in a fenced code block whose info string is `language:path/to/file`."
)


def agent_spec(task: Task) -> AgentSpec:
    """The task's agent type as its row says now (read once per run of the task). A type deleted
    since the agent was spawned runs as a specialist rather than failing the task."""
    cached = getattr(task, "_agent_spec", None)
    if cached is not None:
        return cached
    agent = task.assigned_agent
    if agent and hasattr(task, "agent_type_row"):  # read with the claim (AGENT_TYPE_ROW)
        spec = agent_type_from_row(task.agent_type_row)
    else:
        spec = agent_type_for(agent.type, task.swarm.owner_id) if agent else None
    if agent and spec is None:
        logger.warning(
            "agent type %r of task %s no longer exists; running it as a specialist", agent.type, task.id
        )
    task._agent_spec = spec or get_agent_type("specialist")  # type: ignore[attr-defined]
    return task._agent_spec  # type: ignore[attr-defined]


def tools_of(task: Task) -> tuple[str, ...]:
    """The workspace tools the task's agent type may call (none: it answers in plain text)."""
    return agent_spec(task).tools


def max_turns_of(task: Task) -> int:
    """The type's turn limit, never above the deployment's TASK_MAX_TURNS."""
    own = agent_spec(task).max_turns
    return min(own, settings.TASK_MAX_TURNS) if own else settings.TASK_MAX_TURNS


def task_messages(task: Task, dependencies: list[Task]) -> tuple[str, list[dict[str, Any]]]:
    kind = agent_spec(task)
    system = kind.system_prompt + (WITH_TOOLS if kind.tools else WITHOUT_TOOLS)
    parts = [
        f"# Objective\n{task.swarm.objective}",
        f"# Your task: {task.name}\nType: {task.type}. Priority: {task.get_priority_display()}.\n\n{task.description}",
    ]
    requirements = {k: v for k, v in (task.requirements or {}).items() if v}
    if requirements:
        parts.append(
            "# Requirements\n"
            + "\n".join(
                f"- {k}: {', '.join(map(str, v))}" for k, v in requirements.items() if isinstance(v, list)
            )
        )
    if task.review_feedback and task.feedback_from == "approver":
        parts.append(_rejected_answer(task))
    elif task.review_feedback:
        parts.append(
            f"# Revise your earlier answer\nThe coordinator asked for changes:\n{task.review_feedback}"
        )
    if dependencies:
        parts.append("# Results of the tasks yours builds on\n" + _dependency_context(dependencies))
    if kind.tools:
        parts.append("# Workspace files\n" + _workspace_listing(task.swarm_id))
    if task.is_synthesis:
        parts.append(
            "Write the final synthesis: combine the results above into one coherent answer to the "
            "objective, resolve contradictions, and list open issues."
        )
    return system, [{"role": "user", "content": _after_objective(parts[0], parts[1:])}]


def _rejected_answer(task: Task) -> str:
    """A person rejected the task's output: the revision sees what it was and why."""
    earlier = task.output
    share = settings.CONTEXT_CHAR_BUDGET // 2
    if len(earlier) > share:
        earlier = earlier[:share] + f"\n…[trimmed {len(task.output) - share} characters]"
    return (
        "# Revise your earlier answer\nThe person supervising this swarm rejected your earlier answer "
        f"and asked for changes:\n{task.review_feedback}\n\n## Your earlier answer\n{earlier}"
    )


def _after_objective(objective: str, rest: list[str]) -> list[dict[str, Any]]:
    """The objective first, in a block of its own: it is the same for every call about the swarm,
    so with the system prompt before it, it is a prefix the prompt cache can serve."""
    return [stable(objective), {"type": "text", "text": "\n\n".join(rest)}]


def _dependency_context(dependencies: list[Task]) -> str:
    """Each dependency's output, trimmed so that together they fit the context budget."""
    share = max(200, settings.CONTEXT_CHAR_BUDGET // len(dependencies))
    sections = []
    for dep in dependencies:
        output = dep.output
        if len(output) > share:
            output = output[:share] + f"\n…[trimmed {len(dep.output) - share} characters]"
        sections.append(f"## {dep.name}\n{output}")
    return "\n\n".join(sections)


def _workspace_listing(swarm_id: str) -> str:
    files, total = workspace.file_overview(swarm_id=swarm_id, limit=WORKSPACE_LISTED)
    if not files:
        return "(empty)"
    lines = [f"- {f.path} ({f.size} bytes, version {f.version})" for f in files]
    if total > len(files):
        lines.append(f"- … and {total - len(files)} more (list_files shows them all)")
    return "\n".join(lines)


def review_tool(*, can_revise: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "score": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": "0 = useless, 1 = complete, correct and ready to use",
        },
        "feedback": {"type": "string", "maxLength": 2000, "description": "what is missing or wrong, briefly"},
    }
    required = ["score", "feedback"]
    if can_revise:
        properties["verdict"] = {
            "type": "string",
            "enum": ["accept", "revise"],
            "description": "revise only if the answer must change before others build on it",
        }
        required.append("verdict")
    return {
        "name": REVIEW_TOOL_NAME,
        "description": "Record your review of the task's result.",
        "input_schema": {"type": "object", "properties": properties, "required": required},
    }


def review_messages(task: Task, output: str, *, as_coordinator: bool) -> tuple[str, list[dict[str, Any]]]:
    role = "coordinator" if as_coordinator else "reviewer"
    system = get_agent_type(role).system_prompt + " Review strictly and call submit_review."
    rest = [
        f"# Task: {task.name}\n{task.description}",
        f"# Result to review\n{output[: settings.CONTEXT_CHAR_BUDGET]}",
    ]
    files = workspace.files_of_task(swarm_id=task.swarm_id, task_id=task.id)
    if files:  # the work itself, not only the summary of it
        rest.append("# Files the task wrote (latest versions)\n" + _file_sections(files))
    return system, [
        {"role": "user", "content": _after_objective(f"# Objective\n{task.swarm.objective}", rest)}
    ]


def _file_sections(files: list[Any]) -> str:
    """Each file's content in a fenced block, trimmed so that together they fit the context budget."""
    share = max(200, settings.CONTEXT_CHAR_BUDGET // len(files))
    sections = []
    for file in files:
        content = file.content
        if len(content) > share:
            content = content[:share] + f"\n…[trimmed {len(file.content) - share} characters]"
        sections.append(f"## {file.path} (version {file.version})\n```\n{content}\n```")
    return "\n\n".join(sections)
