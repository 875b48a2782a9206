"""The workspace tools of a task's tool loop: their declarations and how one call of each runs.

Every call becomes a `tool_result` block. Anything Claude gets wrong (a bad path, a file too
large, an edit whose text is not found, an unknown tool, input that is not what the schema asks)
comes back as `is_error: true` with a sentence Claude can act on; it never fails the task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workspaces import services as workspace
from workspaces.services import WorkspaceError

logger = logging.getLogger(__name__)

SUBMIT = "submit_result"
LIST_LIMIT = 500  # files named in one list_files result


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


_PATH = {"type": "string", "description": "relative path inside the workspace, e.g. src/app.py"}
DECLARATIONS: dict[str, dict[str, Any]] = {
    "list_files": {
        "description": "List the workspace's files (latest versions) with their size and version.",
        "input_schema": _schema({}, []),
    },
    "read_file": {
        "description": "Read a workspace file's content (its latest version unless `version` is given).",
        "input_schema": _schema({"path": _PATH, "version": {"type": "integer", "minimum": 1}}, ["path"]),
    },
    "write_file": {
        "description": "Create a file or replace its whole content; every write is a new version.",
        "input_schema": _schema({"path": _PATH, "content": {"type": "string"}}, ["path", "content"]),
    },
    "edit_file": {
        "description": "Replace one exact string in a file; `old` must occur exactly once.",
        "input_schema": _schema(
            {"path": _PATH, "old": {"type": "string"}, "new": {"type": "string"}}, ["path", "old", "new"]
        ),
    },
    "search_files": {
        "description": "Search every workspace file for a substring (or a regular expression).",
        "input_schema": _schema(
            {"pattern": {"type": "string"}, "regex": {"type": "boolean", "default": False}}, ["pattern"]
        ),
    },
    SUBMIT: {
        "description": "Finish the task: a summary of what you did and where (it becomes the task's result).",
        "input_schema": _schema({"summary": {"type": "string"}}, ["summary"]),
    },
}


def declarations(names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"name": name, **DECLARATIONS[name]} for name in names]


@dataclass
class Context:
    swarm_id: str
    task_id: str
    call_id: int | None
    allowed: tuple[str, ...]
    replay: bool = True  # the turn's answer was stored before: its writes may already be done


class _BadInput(Exception):
    pass


def run(block: dict[str, Any], context: Context) -> dict[str, Any]:
    """Runs one tool_use block; returns its tool_result block."""
    name, args = block.get("name", ""), block.get("input") or {}
    try:
        if name not in context.allowed:
            known = "is not available to this agent" if name in DECLARATIONS else "does not exist"
            raise _BadInput(f"The tool {name!r} {known}; use one of: {', '.join(context.allowed)}.")
        if "_invalid_json" in args:
            raise _BadInput(f"The input of {name} was not valid JSON (was the answer cut off?).")
        text = _RUNNERS[name](args, context, block.get("id"))
    except (_BadInput, WorkspaceError) as exc:
        return _result(block, getattr(exc, "message", None) or str(exc), error=True)
    return _result(block, text)


def _result(block: dict[str, Any], text: str, *, error: bool = False) -> dict[str, Any]:
    result = {"type": "tool_result", "tool_use_id": block.get("id", ""), "content": text}
    if error:
        result["is_error"] = True
    return result


def _str(args: dict[str, Any], key: str, *, tool: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise _BadInput(f"{tool} needs `{key}` as a string.")
    return value


def _list(args: dict[str, Any], context: Context, _: str | None) -> str:
    files, total = workspace.file_overview(swarm_id=context.swarm_id, limit=LIST_LIMIT)
    if not files:
        return "The workspace is empty."
    lines = [f"{f.path}  ({f.size} bytes, version {f.version})" for f in files]
    if total > len(files):
        lines.append(f"… and {total - len(files)} more")
    return "\n".join(lines)


def _read(args: dict[str, Any], context: Context, _: str | None) -> str:
    version = args.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise _BadInput("read_file needs `version` as a whole number.")
    path = _str(args, "path", tool="read_file")
    return workspace.file_read(swarm_id=context.swarm_id, path=path, version=version).content


def _write(args: dict[str, Any], context: Context, tool_use_id: str | None) -> str:
    path, content = _str(args, "path", tool="write_file"), _str(args, "content", tool="write_file")
    written = workspace.file_write(
        swarm_id=context.swarm_id, path=path, content=content, task_id=context.task_id,
        call_id=context.call_id, tool_use_id=tool_use_id, replay=context.replay,
    )  # fmt: skip
    return f"Wrote {written.path} (version {written.version}, {written.size} bytes)."


def _edit(args: dict[str, Any], context: Context, tool_use_id: str | None) -> str:
    path = _str(args, "path", tool="edit_file")
    old, new = _str(args, "old", tool="edit_file"), _str(args, "new", tool="edit_file")
    edited = workspace.file_edit(
        swarm_id=context.swarm_id, path=path, old=old, new=new, task_id=context.task_id,
        call_id=context.call_id, tool_use_id=tool_use_id, replay=context.replay,
    )  # fmt: skip
    return f"Edited {edited.path} (version {edited.version}, {edited.size} bytes)."


def _search(args: dict[str, Any], context: Context, _: str | None) -> str:
    pattern = _str(args, "pattern", tool="search_files")
    regex = args.get("regex", False)
    if not isinstance(regex, bool):
        raise _BadInput("search_files needs `regex` as true or false.")
    hits = workspace.file_search(swarm_id=context.swarm_id, pattern=pattern, regex=regex)
    if not hits:
        return f"No matches for {pattern!r}."
    return "\n".join(f"{hit['path']}:{hit['line']}: {hit['text']}" for hit in hits)


def _submit(args: dict[str, Any], context: Context, _: str | None) -> str:
    summary = _str(args, "summary", tool=SUBMIT)
    if not summary.strip():
        raise _BadInput("submit_result needs a non-empty `summary`.")
    return summary


_RUNNERS: dict[str, Callable[[dict[str, Any], Context, str | None], str]] = {
    "list_files": _list,
    "read_file": _read,
    "write_file": _write,
    "edit_file": _edit,
    "search_files": _search,
    SUBMIT: _submit,
}
