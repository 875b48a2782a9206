"""The workspace file browser of the results page: a tree of paths, one file with line numbers and
its history. Rendered on the server; file content is always escaped text (the templates autoescape
it), never markup. The downloads are views in ui.views."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.errors import ApplicationError
from tasks.models import Task
from workspaces import services
from workspaces.models import WorkspaceFile


def tree(files: list[WorkspaceFile]) -> list[dict[str, Any]]:
    """Nested folders ({name, folder: True, children}) and files ({name, file}), folders first."""
    root: dict[str, Any] = {"children": {}}
    for file in files:
        node = root
        *folders, name = file.path.split("/")
        for folder in folders:
            node = node["children"].setdefault(folder, {"name": folder, "folder": True, "children": {}})
            if not node.get("folder"):  # a file and a folder of one name cannot both exist here
                break
        else:
            node["children"][name] = {"name": name, "file": file}
    return _ordered(root)["children"]


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    children = [_ordered(child) if child.get("folder") else child for child in node["children"].values()]
    children.sort(key=lambda child: (not child.get("folder"), child["name"]))
    return {**node, "children": children}


def selected_file(swarm_id: str, request: HttpRequest, task_names: dict[str, str]) -> dict[str, Any]:
    """The file the page shows (`?file=…&version=…`), its lines and history, or the error why not."""
    path = request.GET.get("file")
    if not path:
        return {}
    raw_version = request.GET.get("version", "")
    try:
        version = int(raw_version) if raw_version else None
        file = services.file_read(swarm_id=swarm_id, path=path, version=version)
        history = services.file_history(swarm_id=swarm_id, path=file.path)
    except ValueError:
        return {"error": "The version must be a whole number."}
    except ApplicationError as exc:
        return {"error": exc.message}
    lines = file.content.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    versions = [
        {"file": v, "task": task_names.get(v.task_id or "", ""), "current": v.version == file.version}
        for v in reversed(history)
    ]
    return {"file": file, "lines": lines, "versions": versions, "latest": history[-1].version}


def workspace_context(swarm_id: str, request: HttpRequest, tasks: list[Task]) -> dict[str, Any]:
    files = services.file_list(swarm_id=swarm_id)
    names = {t.id: f"{t.sequence}. {t.name}" for t in tasks}
    selected = selected_file(swarm_id, request, names)
    return {
        "tree": tree(files),
        "count": len(files),
        "total_bytes": sum(f.size for f in files),
        "selected": selected,
        "selected_path": selected["file"].path if selected.get("file") else request.GET.get("file", ""),
    }
