"""Errors of the workspace. Their messages go back to Claude as a tool's error result, so they
say what was wrong and what to do instead."""

from __future__ import annotations

from rest_framework import status

from core.errors import ValidationFailed


class WorkspaceError(ValidationFailed):
    title = "Workspace error"


class WorkspaceFileMissing(WorkspaceError):
    status_code = status.HTTP_404_NOT_FOUND
    title = "Not found"
