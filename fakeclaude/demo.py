"""Plausible plans for demos: the `submit_plan` input a person would expect for the objective.

The fake's schema-driven generator gives valid but odd plans ("Name-1-Build-a-REST-API-for-user").
With `FakeClaude(plausible=True)` (what `bin/run` starts) a planning call gets agents named after the
objective's subject and tasks that read like a real plan for the strategy. Everything is checked
against the tool's own input_schema enums and limits, so the fake stays schema-driven: an
unrecognised planning schema falls back to the generic generator.
"""

from __future__ import annotations

import re
from typing import Any

# (task type, agent type, title template, description template, dependencies)
Step = tuple[str, str, str, str, list[int]]

STEPS: dict[str, list[Step]] = {
    "development": [
        (
            "design",
            "architect",
            "Design the {subject}",
            "Describe the components, data model and interfaces of the {subject}, with the trade-offs chosen.",
            [],
        ),
        (
            "coding",
            "coder",
            "Implement the {subject}",
            "Write the code of the {subject} following the design, with clear module boundaries.",
            [0],
        ),
        (
            "testing",
            "tester",
            "Test the {subject}",
            "Write automated tests covering the main paths and the error cases of the {subject}.",
            [1],
        ),
        (
            "review",
            "reviewer",
            "Review the {subject}",
            "Review the implementation and tests of the {subject}; list problems and suggested fixes.",
            [1, 2],
        ),
    ],
    "research": [
        (
            "research",
            "researcher",
            "Survey sources on {subject}",
            "Collect the most relevant sources on {subject} and summarise what each contributes.",
            [],
        ),
        (
            "analysis",
            "analyst",
            "Compare approaches to {subject}",
            "Compare the main approaches to {subject}: strengths, weaknesses and when to use each.",
            [0],
        ),
        (
            "review",
            "reviewer",
            "Summarise the findings on {subject}",
            "Write a short report of the findings on {subject} with a recommendation.",
            [0, 1],
        ),
    ],
    "analysis": [
        (
            "research",
            "researcher",
            "Gather the facts about {subject}",
            "Gather the data and facts needed to analyse {subject}, noting their sources.",
            [],
        ),
        (
            "analysis",
            "analyst",
            "Analyse {subject}",
            "Analyse {subject}: the key figures, patterns and the questions they answer.",
            [0],
        ),
        (
            "review",
            "reviewer",
            "Report on {subject}",
            "Write the analysis report on {subject}, with conclusions and open questions.",
            [1],
        ),
    ],
    "testing": [
        (
            "analysis",
            "tester",
            "Plan the tests of {subject}",
            "Write a test plan for {subject}: what to test, at which level, and the edge cases.",
            [],
        ),
        (
            "testing",
            "tester",
            "Write the tests of {subject}",
            "Implement the automated tests from the plan for {subject}.",
            [0],
        ),
        (
            "review",
            "reviewer",
            "Review the test coverage of {subject}",
            "Review which risks of {subject} the tests cover and which remain.",
            [1],
        ),
    ],
    "review": [
        (
            "review",
            "reviewer",
            "Review the design of {subject}",
            "Review the structure and the interfaces of {subject}; note risks and inconsistencies.",
            [],
        ),
        (
            "review",
            "reviewer",
            "Review the code of {subject}",
            "Review the code of {subject} for correctness, clarity and security issues.",
            [],
        ),
        (
            "analysis",
            "analyst",
            "Summarise the review of {subject}",
            "Combine the review findings on {subject} into a prioritised list of changes.",
            [0, 1],
        ),
    ],
}
ROLE_NAMES = {
    "architect": "architect",
    "coder": "developer",
    "tester": "tester",
    "reviewer": "reviewer",
    "researcher": "researcher",
    "analyst": "analyst",
    "coordinator": "coordinator",
}
_VERBS = re.compile(
    r"^(please\s+)?(build|create|write|design|implement|develop|make|add|analy[sz]e|research|review|"
    r"test|investigate|study|compare|document|evaluate|audit|plan|set\s+up|refactor)\s+",
    re.IGNORECASE,
)
_ARTICLE = re.compile(r"^(a|an|the|our|my|some)\s+", re.IGNORECASE)
_SLUG_STOP = {"a", "an", "the", "for", "of", "and", "to", "with", "in", "on", "our", "my"}


def plausible_plan(schema: dict[str, Any], prompt: str) -> dict[str, Any] | None:
    """A plan for the objective in `prompt`, valid against `schema`; None if the schema is not a plan."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict) or "agents" not in props or "tasks" not in props:
        return None
    try:
        agent_item = props["agents"]["items"]["properties"]
        task_item = props["tasks"]["items"]["properties"]
        agent_types = list(agent_item["type"]["enum"])
        task_types = list(task_item["type"]["enum"])
        priorities = list(task_item["priority"]["enum"])
    except (KeyError, TypeError):
        return None
    max_agents = int(props["agents"].get("maxItems", 5))
    max_tasks = int(props["tasks"].get("maxItems", 20))
    if max_agents < 1 or max_tasks < 1:
        return None
    objective = _section(prompt, "Objective") or prompt
    strategy = (_heading_value(prompt, "Strategy") or "development").lower()
    subject = subject_of(objective)
    steps = [s for s in STEPS.get(strategy, STEPS["development"]) if s[0] in task_types][:max_tasks]
    if not steps:
        return None
    wanted: list[str] = []
    if "# Mode: hierarchical" in prompt and "coordinator" in agent_types:
        wanted.append("coordinator")
    for step in steps:
        if step[1] in agent_types and step[1] not in wanted:
            wanted.append(step[1])
    staffed = wanted[:max_agents] or agent_types[:1]
    workers = [t for t in staffed if t != "coordinator"] or staffed
    slug = subject_slug(subject)
    agents = [{"type": kind, "name": agent_name(slug, kind)} for kind in staffed]
    tasks = []
    for index, (task_type, agent_type, title, description, deps) in enumerate(steps):
        tasks.append(
            {
                "name": title.format(subject=subject)[:200],
                "description": description.format(subject=subject)[:1000],
                "type": task_type,
                "priority": "high"
                if index == 0 and "high" in priorities
                else priorities[min(1, len(priorities) - 1)],
                "agentType": agent_type if agent_type in workers else workers[index % len(workers)],
                "dependencies": [d for d in deps if d < index],
            }
        )
    return {"agents": agents, "tasks": tasks}


def subject_of(objective: str) -> str:
    """ "Build a REST API for user management" → "REST API for user management"."""
    line = next((line.strip() for line in objective.splitlines() if line.strip()), "")
    line = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0].rstrip(".!? ")
    subject = _ARTICLE.sub("", _VERBS.sub("", line, count=1), count=1).strip()
    words = subject.split()
    subject = " ".join(words[:10]) if words else "the objective"
    return subject[:120]


def subject_slug(subject: str) -> str:
    words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", subject) if w.lower() not in _SLUG_STOP]
    return "-".join(words[:2]) or "team"


def agent_name(slug: str, kind: str) -> str:
    name = f"{slug}-{ROLE_NAMES.get(kind, kind)}"
    return name[:50].strip("-")


def _section(prompt: str, title: str) -> str:
    match = re.search(rf"^# {title}\s*\n(.+?)(?=\n# |\Z)", prompt, re.MULTILINE | re.DOTALL)
    return match.group(1).strip() if match else ""


def _heading_value(prompt: str, title: str) -> str:
    match = re.search(rf"^# {title}:\s*([\w-]+)", prompt, re.MULTILINE)
    return match.group(1) if match else ""
