"""The built-in agent types: the spec's 8 core types and its 3 custom ones, each with
capabilities and a prompt. They are the source of the global `AgentType` rows (synced after every
migrate, see agents/apps.py); the runtime reads those rows, and users add their own.

Capabilities are flags (`{"codeGeneration": true}`); a task's `requirements.capabilities` lists
the flags an agent must have to take it. Each type also names the workspace tools its tasks may
call (engine/tools.py runs them): reviewers and analysts read, coders and architects write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

READ_TOOLS = ("list_files", "read_file", "search_files", "submit_result")
WRITE_TOOLS = ("list_files", "read_file", "search_files", "write_file", "edit_file", "submit_result")
TOOL_NAMES = WRITE_TOOLS  # every tool engine/tools.py runs (a test keeps the two in step)


@dataclass(frozen=True)
class AgentSpec:
    """What the runtime needs of an agent type (a built-in here, or an `AgentType` row's `spec()`)."""

    name: str
    capabilities: tuple[str, ...]
    system_prompt: str
    custom: bool = False
    tools: tuple[str, ...] = WRITE_TOOLS  # () = plain-text answers only
    description: str = ""
    model: str = ""  # "" = the deployment's agent model (CLAUDE_AGENT_MODEL)
    max_turns: int | None = None  # None = TASK_MAX_TURNS
    builtin: bool = True  # False: a user's own type

    def default_capabilities(self) -> dict[str, bool]:
        return dict.fromkeys(self.capabilities, True)


_BASE = (
    "You are {role} in a team of AI agents working on one objective. Do only your task, "
    "build on the results of earlier tasks you are given, and answer in Markdown."
)


def _prompt(role: str, focus: str) -> str:
    return _BASE.format(role=role) + " " + focus


AGENT_TYPES: dict[str, AgentSpec] = {
    t.name: t
    for t in [
        AgentSpec(
            "coordinator",
            ("coordination", "analysis", "documentation", "codeReview"),
            _prompt(
                "the coordinator",
                "You review the work of other agents against the objective and write syntheses.",
            ),
        ),
        AgentSpec(
            "coder",
            ("codeGeneration", "documentation", "debugging"),
            _prompt(
                "a software engineer", "You write correct, complete, idiomatic code with brief explanations."
            ),
        ),
        AgentSpec(
            "reviewer",
            ("codeReview", "analysis", "documentation"),
            _prompt(
                "a code reviewer", "You find defects, risks and omissions and say exactly how to fix them."
            ),
            tools=READ_TOOLS,
        ),
        AgentSpec(
            "tester",
            ("testing", "validation", "codeReview"),
            _prompt(
                "a test engineer",
                "You write tests that would catch real defects and explain what they cover.",
            ),
        ),
        AgentSpec(
            "researcher",
            ("research", "analysis", "documentation", "dataProcessing"),
            _prompt(
                "a researcher", "You gather facts, compare options and cite what your conclusions rest on."
            ),
            tools=READ_TOOLS,
        ),
        AgentSpec(
            "analyst",
            ("analysis", "research", "documentation", "validation", "dataProcessing"),
            _prompt(
                "an analyst", "You break problems down, quantify where you can and state your assumptions."
            ),
            tools=READ_TOOLS,
        ),
        AgentSpec(
            "architect",
            ("architecture", "documentation", "research", "analysis", "modelDesign"),
            _prompt(
                "a software architect",
                "You design systems: components, boundaries, data flow and trade-offs.",
            ),
        ),
        AgentSpec(
            "specialist",
            ("codeGeneration", "configuration", "deployment", "docker", "kubernetes"),
            _prompt(
                "a platform specialist", "You handle infrastructure, deployment and configuration in depth."
            ),
        ),
        AgentSpec(
            "security-auditor",
            ("securityAnalysis", "vulnerabilityScanning", "penetrationTesting", "codeReview"),
            _prompt(
                "a security auditor", "You find vulnerabilities, rate their severity and give concrete fixes."
            ),
            custom=True,
            tools=READ_TOOLS,
        ),
        AgentSpec(
            "performance-optimizer",
            ("performanceAnalysis", "codeOptimization", "benchmarking", "codeGeneration"),
            _prompt(
                "a performance engineer", "You measure before optimising and explain each gain with numbers."
            ),
            custom=True,
        ),
        AgentSpec(
            "documentation-specialist",
            ("documentation", "technicalWriting", "diagramGeneration"),
            _prompt("a technical writer", "You write clear, accurate documentation for the intended reader."),
            custom=True,
        ),
    ]
}

# each built-in's description is its prompt's focus sentence, the part after the shared preamble
AGENT_TYPES = {
    name: replace(t, description=t.system_prompt.split("answer in Markdown. ", 1)[-1])
    for name, t in AGENT_TYPES.items()
}
CORE_TYPES = tuple(name for name, t in AGENT_TYPES.items() if not t.custom)


def get_agent_type(name: str) -> AgentSpec:
    return AGENT_TYPES[name]


def best_type_for(capabilities: list[str], types: Mapping[str, AgentSpec] = AGENT_TYPES) -> str | None:
    """The type with every required capability and the fewest extra ones."""
    fits = [t for t in types.values() if set(capabilities) <= set(t.capabilities)]
    if not fits:
        return None
    return min(fits, key=lambda t: len(t.capabilities)).name
