"""Reading and writing a swarm's workspace: the file tools of an agent's tool-use loop, and the API.

Writes are serialized per swarm (a transaction-scoped lock: PostgreSQL's advisory lock, SQLite's
single writer), so version numbers have no gaps and the file-count limit holds under concurrent
tasks. Each write publishes `workspace.file_written` in its transaction.

Rules a caller relies on:
- A write whose content equals the latest version's writes nothing and returns that version
  (no new row, no event): versions are changes.
- `tool_use_id` is an idempotency key per swarm: a write or edit carrying one that already wrote
  a version returns that version unchanged, whatever its arguments now are (a task re-run after
  a crash replays the same tool call). An unchanged write stores no row, so it records no key.
- Every refusal is a WorkspaceError whose message is meant for Claude (a tool error result).
"""

from __future__ import annotations

import difflib
import hashlib
import zlib
from typing import Any

import re2
from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q

from core.prepared import Prepared
from events import catalogue
from events.stream import publish, swarm_tx
from workspaces.errors import WorkspaceError, WorkspaceFileMissing
from workspaces.models import WorkspaceFile
from workspaces.paths import normalize

SEARCH_MAX_PATTERN_CHARS = 500
SEARCH_MAX_SCAN_BYTES = 16 * 1024 * 1024  # content one search reads, at most
SEARCH_MAX_LINE_CHARS = 300  # a matching line is cut to this in a result
_LOCK_SPACE = 0x43465F57  # pg_advisory_xact_lock(space, swarm) keys: "CF_W"


class SearchResults(list):
    """file_search's matches ({path, line, text}); `truncated` when a bound stopped the search."""

    truncated: bool = False


def _lock_workspace(swarm_id: str) -> None:
    """Held until the transaction ends. On SQLite every transaction already holds the one write
    lock (BEGIN IMMEDIATE, see settings)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            key = zlib.crc32(swarm_id.encode()) & 0x7FFFFFFF
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, key])


def _encoded(content: Any) -> bytes:
    if not isinstance(content, str):
        raise WorkspaceError("The content must be a string (the file's full text)")
    if "\x00" in content:
        raise WorkspaceError("The content contains a NUL character; the workspace holds text files only")
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError:
        raise WorkspaceError("The content is not valid Unicode text (a lone surrogate)") from None
    limit = settings.WORKSPACE_MAX_FILE_BYTES
    if len(data) > limit:
        raise WorkspaceError(
            f"The content is {len(data)} bytes; a workspace file may hold at most {limit} bytes. "
            "Split it into smaller files"
        )
    return data


def _latest(swarm_id: str, path: str) -> WorkspaceFile | None:
    return WorkspaceFile.objects.filter(swarm_id=swarm_id, path=path).order_by("-version").first()


def _replayed(swarm_id: str, tool_use_id: str | None, replay: bool) -> WorkspaceFile | None:
    """Takes the workspace's write lock, then returns the version this tool call already wrote, if
    any. `replay=False` says the call is new (its answer came from Claude just now, not from a
    stored turn), so nothing can carry its id yet and the lookup is skipped."""
    _lock_workspace(swarm_id)
    if not tool_use_id or not replay:
        return None
    return WorkspaceFile.objects.filter(swarm_id=swarm_id, tool_use_id=tool_use_id).first()


def _check_new_path(swarm_id: str, path: str) -> None:
    """A new path must fit the file-count limit and the tree: a name is a file or a folder, not both
    (the zip could not hold both)."""
    parts = path.split("/")
    folders = ["/".join(parts[:end]) for end in range(1, len(parts))]
    checks = {
        "held": Count("path", distinct=True),
        "inside": Min("path", filter=Q(path__startswith=path + "/")),
    }
    if folders:
        checks["clash"] = Min("path", filter=Q(path__in=folders))
    found = WorkspaceFile.objects.for_swarm(swarm_id).aggregate(**checks)  # one statement for all three
    held, clash, inside = found["held"], found.get("clash"), found["inside"]
    if held >= settings.WORKSPACE_MAX_FILES:
        raise WorkspaceError(
            f"The workspace already holds {held} files, its maximum; write to an existing file instead"
        )
    if clash:
        raise WorkspaceError(f"{clash} is a file, so it cannot hold {path}; choose another folder")
    if inside:
        raise WorkspaceError(f"{path} is a folder (it holds {inside}); choose another file name")


def _store(
    *,
    swarm_id: str,
    path: str,
    content: str,
    data: bytes,
    latest: WorkspaceFile | None,
    task_id: str | None,
    call_id: int | str | None,
    tool_use_id: str | None,
) -> WorkspaceFile:
    """Adds the next version of `path` (the caller holds the workspace lock)."""
    if latest is None:
        _check_new_path(swarm_id, path)
    file = WorkspaceFile.objects.create(
        swarm_id=swarm_id,
        path=path,
        version=latest.version + 1 if latest else 1,
        content=content,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        task_id=task_id,
        call_id=int(call_id) if call_id is not None else None,
        tool_use_id=tool_use_id or "",
    )
    publish(swarm_id, catalogue.workspace_file_written(file))
    return file


def file_write(
    *,
    swarm_id: str,
    path: str,
    content: str,
    task_id: str | None = None,
    call_id: int | str | None = None,
    tool_use_id: str | None = None,
    replay: bool = True,
) -> WorkspaceFile:
    """Creates `path` or writes its next version with the whole new content."""
    path = normalize(path)
    data = _encoded(content)
    with swarm_tx(swarm_id):
        replayed = _replayed(swarm_id, tool_use_id, replay)
        if replayed is not None:
            return replayed
        latest = _latest(swarm_id, path)
        if latest is not None and latest.content == content:
            return latest
        return _store(
            swarm_id=swarm_id,
            path=path,
            content=content,
            data=data,
            latest=latest,
            task_id=task_id,
            call_id=call_id,
            tool_use_id=tool_use_id,
        )


def _occurrences(text: str, part: str, *, stop: int = 1000) -> int:
    """How often `part` occurs in `text`, overlapping ones included ("aa" twice in "aaa")."""
    count, start = 0, text.find(part)
    while start != -1 and count < stop:
        count, start = count + 1, text.find(part, start + 1)
    return count


def file_edit(
    *,
    swarm_id: str,
    path: str,
    old: str,
    new: str,
    task_id: str | None = None,
    call_id: int | str | None = None,
    tool_use_id: str | None = None,
    replay: bool = True,
) -> WorkspaceFile:
    """Replaces the one occurrence of `old` in the latest version of `path` by `new`."""
    path = normalize(path)
    if not isinstance(old, str) or not isinstance(new, str):
        raise WorkspaceError("old and new must be strings")
    if not old:
        raise WorkspaceError("old is empty; give the exact text to replace, with enough context to be unique")
    if old == new:
        raise WorkspaceError("old and new are the same text; there is nothing to change")
    with swarm_tx(swarm_id):
        replayed = _replayed(swarm_id, tool_use_id, replay)
        if replayed is not None:
            return replayed
        latest = _latest(swarm_id, path)
        if latest is None:
            raise _missing(swarm_id, path, hint="use write_file to create it")
        found = _occurrences(latest.content, old)
        if found != 1:
            where = f"{path} (version {latest.version})"
            if found == 0:
                raise WorkspaceError(
                    f"old was not found in {where}; read the file and copy the exact text, whitespace included"
                )
            raise WorkspaceError(
                f"old occurs {found} times in {where}; include more surrounding text so that it occurs once"
            )
        content = latest.content.replace(old, new, 1)
        return _store(
            swarm_id=swarm_id,
            path=path,
            content=content,
            data=_encoded(content),
            latest=latest,
            task_id=task_id,
            call_id=call_id,
            tool_use_id=tool_use_id,
        )


def _missing(swarm_id: str, path: str, *, hint: str = "") -> WorkspaceFileMissing:
    paths = list(WorkspaceFile.objects.for_swarm(swarm_id).values_list("path", flat=True).distinct())
    message = f"There is no file {path} in the workspace"
    close = difflib.get_close_matches(path, paths, n=3, cutoff=0.6)
    if close:
        message += "; did you mean " + " or ".join(close) + "?"
    elif not paths:
        message += " (the workspace is empty)"
    if hint:
        message += f" ({hint})"
    return WorkspaceFileMissing(message)


def file_read(*, swarm_id: str, path: str, version: int | None = None) -> WorkspaceFile:
    """The latest version of `path`, or the given one."""
    path = normalize(path)
    if version is None:
        latest = _latest(swarm_id, path)
        if latest is None:
            raise _missing(swarm_id, path)
        return latest
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise WorkspaceError("version must be a whole number ≥ 1")
    file = WorkspaceFile.objects.filter(swarm_id=swarm_id, path=path, version=version).first()
    if file is None:
        latest = _latest(swarm_id, path)
        if latest is None:
            raise _missing(swarm_id, path)
        raise WorkspaceFileMissing(f"{path} has no version {version}; its versions are 1 to {latest.version}")
    return file


def file_list(*, swarm_id: str) -> list[WorkspaceFile]:
    """The latest version of each file, by path, without content (read_file for that: up to
    WORKSPACE_MAX_FILES × WORKSPACE_MAX_FILE_BYTES is too much to load for a listing)."""
    return list(WorkspaceFile.objects.for_swarm(swarm_id).latest_versions().defer("content"))


# compiled once per limit: every task's prompt lists its workspace (Django would rebuild the
# correlated subquery for each read, a large share of a worker's CPU for a tool-loop task)
_OVERVIEW = Prepared(
    lambda rows, swarm_id: (
        WorkspaceFile.objects.for_swarm(swarm_id).latest_versions().only("path", "size", "version")[:rows]
    ),
    swarm_id=str,
)
_OF_TASK = Prepared(
    lambda key, swarm_id, task_id: (
        WorkspaceFile.objects.for_swarm(swarm_id).latest_versions().filter(task_id=task_id)
    ),
    swarm_id=str,
    task_id=str,
)


def file_overview(*, swarm_id: str, limit: int) -> tuple[list[WorkspaceFile], int]:
    """The first `limit` files by path (latest versions: path, size, version) and how many there
    are in all: what a prompt or list_files shows, without loading a large workspace's listing."""
    files = _OVERVIEW.read(limit + 1, swarm_id=swarm_id)
    if len(files) <= limit:
        return files, len(files)
    return files[:limit], WorkspaceFile.objects.for_swarm(swarm_id).values("path").distinct().count()


def files_of_task(*, swarm_id: str, task_id: str) -> list[WorkspaceFile]:
    """The files whose latest version `task_id` wrote, by path (what a reviewer of the task reads)."""
    return _OF_TASK.read(swarm_id=swarm_id, task_id=task_id)


def file_history(*, swarm_id: str, path: str) -> list[WorkspaceFile]:
    """Every version of `path`, oldest first (without content: read a version for it)."""
    path = normalize(path)
    versions = list(
        WorkspaceFile.objects.filter(swarm_id=swarm_id, path=path).defer("content").order_by("version")
    )
    if not versions:
        raise _missing(swarm_id, path)
    return versions


def _matcher(pattern: str, *, regex: bool) -> Any:
    if not isinstance(pattern, str) or not pattern:
        raise WorkspaceError("pattern is empty; give the text (or regular expression) to search for")
    if len(pattern) > SEARCH_MAX_PATTERN_CHARS:
        raise WorkspaceError(
            f"pattern is {len(pattern)} characters long; at most {SEARCH_MAX_PATTERN_CHARS} are allowed"
        )
    if not regex:
        return lambda line: pattern in line
    # RE2 matches in linear time: no pattern can make a search backtrack for ever
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 * 1024 * 1024
    try:
        compiled = re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise WorkspaceError(
            f"pattern is not a valid regular expression ({reason}); RE2 syntax, without backreferences or lookaround"
        ) from None
    return lambda line: compiled.search(line) is not None


def file_search(*, swarm_id: str, pattern: str, regex: bool = False, max_results: int = 50) -> SearchResults:
    """Lines of the latest versions that contain `pattern` (a substring, or an RE2 regular
    expression), as [{path, line (from 1), text}], by path then line."""
    matches = _matcher(pattern, regex=regex)
    if not isinstance(max_results, int) or isinstance(max_results, bool):
        raise WorkspaceError("max_results must be a whole number")
    max_results = max(1, min(max_results, 500))
    results, scanned = SearchResults(), 0
    files = WorkspaceFile.objects.for_swarm(swarm_id).latest_versions().only("path", "content", "size")
    for file in files.iterator(chunk_size=50):
        scanned += file.size
        if scanned > SEARCH_MAX_SCAN_BYTES:
            results.truncated = True
            break
        for number, line in enumerate(file.content.split("\n"), start=1):
            line = line.removesuffix("\r")
            if matches(line):
                results.append({"path": file.path, "line": number, "text": line[:SEARCH_MAX_LINE_CHARS]})
                if len(results) >= max_results:
                    results.truncated = True
                    return results
    return results
