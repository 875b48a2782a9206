"""The fake's side of a tool loop: offered the loop's tools (submit_result among them, none forced),
it acts like an agent.

Turn one (no tool_result in the conversation yet): a sentence of intent, then tool_use blocks —
with write tools, two files named after the task (code and notes) and a read of a file the
prompt's "# Workspace files" lists (a dependency's work) or else of the file it just wrote;
read-only, a list_files and a read. Any later turn: submit_result with a Markdown summary.

Directives make it misuse the tools, for tests: `tool-bad-path` (writes outside the workspace),
`tool-huge` (a file past any sane limit), `tool-unknown` (a tool that does not exist) and
`tool-loop` (never submits: lists files every turn).
"""

from __future__ import annotations

import re
from typing import Any

from fakeclaude.directives import first_user_text, task_words
from fakeclaude.texts import XSS_MARKDOWN, markdown_reply

TOOL_FLAGS = ("tool-bad-path", "tool-huge", "tool-unknown", "tool-loop")
HUGE_BYTES = 300 * 1024
BAD_PATHS = ("../outside.txt", "/etc/passwd", "src/../../escape.py", "nul\x00byte.txt")
_LISTED = re.compile(r"^- (\S+) \(\d+ bytes", re.M)


def is_tool_loop(tools: list[dict[str, Any]]) -> bool:
    return any(tool.get("name") == "submit_result" for tool in tools)


def loop_blocks(n: int, body: dict[str, Any], flags: set[str]) -> list[dict[str, Any]]:
    """The content blocks of one turn of a tool loop."""
    offered = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    prompt = first_user_text(body)
    name, about = _task(prompt)
    slug = "_".join(w.lower() for w in name[:4]) or "work"
    uses: list[tuple[str, dict[str, Any]]]
    if "tool-loop" in flags:
        uses = [("list_files", {})]
    elif _turns_done(body):
        uses = [("submit_result", {"summary": _summary(about, slug, offered, body, "xss" in flags)})]
    elif flags & {"tool-bad-path", "tool-huge", "tool-unknown"}:
        uses = _misuse(flags, slug)
    else:
        uses = _first_turn(prompt, slug, " ".join(about[:12]), offered)
    blocks: list[dict[str, Any]] = [{"type": "text", "text": _intent(uses, xss="xss" in flags)}]
    for i, (name, tool_input) in enumerate(uses, start=1):
        blocks.append({"type": "tool_use", "id": f"toolu_fake_{n}_{i}", "name": name, "input": tool_input})
    return blocks


def _first_turn(prompt: str, slug: str, topic: str, offered: set[str]) -> list[tuple[str, dict[str, Any]]]:
    listed = (
        _LISTED.findall(prompt.split("# Workspace files", 1)[-1]) if "# Workspace files" in prompt else []
    )
    if "write_file" not in offered:
        return [("list_files", {})] + ([("read_file", {"path": listed[0]})] if listed else [])
    code, notes = f"src/{slug}.py", f"docs/{slug}.md"
    topic = topic or "the task"
    return [
        ("write_file", {"path": code, "content": _code(topic)}),
        (
            "write_file",
            {"path": notes, "content": f"# {topic}\n\nNotes on `{code}`: what it does and how to run it.\n"},
        ),
        ("read_file", {"path": listed[0] if listed else code}),
    ]


def _misuse(flags: set[str], slug: str) -> list[tuple[str, dict[str, Any]]]:
    uses: list[tuple[str, dict[str, Any]]] = []
    if "tool-bad-path" in flags:
        uses += [("write_file", {"path": path, "content": "escaped\n"}) for path in BAD_PATHS]
        uses.append(("read_file", {"path": "../../etc/passwd"}))
    if "tool-huge" in flags:
        uses.append(("write_file", {"path": f"data/{slug}.txt", "content": "x" * HUGE_BYTES}))
    if "tool-unknown" in flags:
        uses.append(("delete_everything", {"confirm": True}))
    return uses


def _code(topic: str) -> str:
    return (
        f'"""{topic}."""\n\n\n'
        "def solve() -> str:\n"
        f"    return {topic!r}\n\n\n"
        'if __name__ == "__main__":\n'
        "    print(solve())\n"
    )


def _summary(about: list[str], slug: str, offered: set[str], body: dict[str, Any], xss: bool) -> str:
    written = f"src/{slug}.py and docs/{slug}.md" if "write_file" in offered else "no files (read-only)"
    errors = sum(1 for block in _tool_results(body) if block.get("is_error"))
    note = f" {errors} tool call(s) failed." if errors else ""
    return f"Done: wrote {written}.{note}\n\n" + markdown_reply(" ".join(about), xss=xss)


def _intent(uses: list[tuple[str, dict[str, Any]]], *, xss: bool) -> str:
    names = ", ".join(dict.fromkeys(name for name, _ in uses))
    return f"I will use {names}." + (XSS_MARKDOWN if xss else "")  # hostile markup on every turn


def _task(prompt: str) -> tuple[list[str], list[str]]:
    """The task's name and description words (the prompt's "# Your task: <name>" section)."""
    if "# Your task:" not in prompt:
        return [], task_words(prompt, 16)
    section = prompt.split("# Your task:", 1)[1].split("\n# ", 1)[0]
    name, _, rest = section.partition("\n")
    description = "\n".join(line for line in rest.splitlines() if not line.startswith("Type: "))
    return task_words(name, 6), task_words(description, 16)


def _tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            results += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return results


def _turns_done(body: dict[str, Any]) -> bool:
    return bool(_tool_results(body))
