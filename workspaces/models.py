"""A swarm's workspace: a tree of text files its agents write, one row per version."""

from __future__ import annotations

from django.db import models
from django.db.models import Exists, OuterRef, Q

MAX_PATH_CHARS = 512


class WorkspaceFileQuerySet(models.QuerySet["WorkspaceFile"]):
    def for_swarm(self, swarm_id: str) -> WorkspaceFileQuerySet:
        return self.filter(swarm_id=swarm_id)

    def latest_versions(self) -> WorkspaceFileQuerySet:
        """The newest version of each path (the workspace as it stands), by path."""
        newer = WorkspaceFile.objects.filter(
            swarm_id=OuterRef("swarm_id"), path=OuterRef("path"), version__gt=OuterRef("version")
        )
        return self.filter(~Exists(newer)).order_by("path")


class WorkspaceFile(models.Model):
    """One version of one file. Rows are never updated: a write adds version n+1.

    Versions of a path are numbered 1, 2, … without gaps, so the latest version number is also
    the number of versions. `tool_use_id` is the idempotency key of the Claude tool call that
    wrote it: the same tool call run again (a task re-run after a crash) finds this row instead
    of writing a second version.
    """

    id = models.BigAutoField(primary_key=True)
    swarm = models.ForeignKey(
        "swarms.Swarm", on_delete=models.CASCADE, related_name="workspace_files", db_index=False
    )
    path = models.CharField(max_length=MAX_PATH_CHARS, help_text="normalized relative POSIX path")
    version = models.PositiveIntegerField()
    content = models.TextField(blank=True)
    size = models.PositiveIntegerField(help_text="bytes, UTF-8")
    sha256 = models.CharField(max_length=64)
    task = models.ForeignKey(
        "tasks.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="workspace_files"
    )
    call = models.ForeignKey(
        "tasks.ClaudeCall", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tool_use_id = models.CharField(max_length=200, blank=True, help_text="empty: not written by a tool call")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceFileQuerySet.as_manager()

    class Meta:
        ordering = ["path", "version"]
        constraints = [
            # its index also serves latest_versions() (newest of a path) and a path's history
            models.UniqueConstraint(
                fields=["swarm", "path", "version"], name="%(app_label)s_%(class)s_version_unique"
            ),
            models.UniqueConstraint(
                fields=["swarm", "tool_use_id"],
                condition=~Q(tool_use_id=""),
                name="%(app_label)s_%(class)s_tool_use_unique",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="%(app_label)s_%(class)s_version_min"),
        ]

    def __str__(self) -> str:
        return f"{self.path} v{self.version}"
