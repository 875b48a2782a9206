"""Workspace paths: relative POSIX paths, normalized, that can never leave the workspace.

The workspace lives in the database, so a path names nothing on disk; still, its files end up in
a zip a person extracts, so a path must not be able to climb out of the folder it lands in.
"""

from __future__ import annotations

import unicodedata

from workspaces.errors import WorkspaceError
from workspaces.models import MAX_PATH_CHARS

MAX_SEGMENTS = 20
MAX_SEGMENT_CHARS = 255  # NAME_MAX of common file systems


def _is_control(char: str) -> bool:
    """Control, format (bidi overrides, zero-width), surrogate, private and unassigned characters,
    and the line and paragraph separators: nothing a file name needs, some made to mislead."""
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")


def normalize(path: str) -> str:
    """`./src//x.py`-free canonical form of `path`, or a WorkspaceError saying why it is refused."""
    if not isinstance(path, str):
        raise WorkspaceError("The path must be a string, like 'src/app.py'")
    shown = path if len(path) <= 80 else path[:80] + "…"
    if any(_is_control(char) for char in path):
        raise WorkspaceError(
            f"The path {shown!r} contains a control or invisible character (NUL, newline, tab …); use plain names"
        )
    path = unicodedata.normalize("NFC", path.strip())
    if not path:
        raise WorkspaceError("The path is empty; give a relative file path like 'src/app.py'")
    if "\\" in path:
        raise WorkspaceError(f"The path {shown!r} contains a backslash; use '/' to separate folders")
    if path.startswith("/"):
        raise WorkspaceError(
            f"The path {shown!r} is absolute; workspace paths are relative, like 'src/app.py'"
        )
    segments = [segment for segment in path.split("/") if segment != "."]
    if ".." in segments:
        raise WorkspaceError(f"The path {shown!r} contains '..'; paths cannot leave the workspace")
    if not segments:
        raise WorkspaceError(
            f"The path {shown!r} names the workspace itself; give a file path like 'src/app.py'"
        )
    if "" in segments:
        raise WorkspaceError(
            f"The path {shown!r} has an empty segment ('//' or a trailing '/'); give a file path like 'src/app.py'"
        )
    normalized = "/".join(segments)
    if len(normalized) > MAX_PATH_CHARS:
        raise WorkspaceError(
            f"The path is {len(normalized)} characters long; at most {MAX_PATH_CHARS} are allowed"
        )
    if len(segments) > MAX_SEGMENTS:
        raise WorkspaceError(
            f"The path {shown!r} is nested {len(segments)} levels deep; at most {MAX_SEGMENTS} are allowed"
        )
    if any(len(segment) > MAX_SEGMENT_CHARS for segment in segments):
        raise WorkspaceError(f"A name in the path {shown!r} is longer than {MAX_SEGMENT_CHARS} characters")
    return normalized
