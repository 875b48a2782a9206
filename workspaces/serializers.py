"""Response shapes of the workspace endpoints."""

from __future__ import annotations

from rest_framework import serializers


class WorkspaceVersionSerializer(serializers.Serializer):
    """One version of a file, without its content (a history row)."""

    version = serializers.IntegerField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    taskId = serializers.CharField(source="task_id", allow_null=True)
    callId = serializers.IntegerField(source="call_id", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


class WorkspaceEntrySerializer(serializers.Serializer):
    """A file of the list: its latest version. Versions are numbered 1…n, so n is also the count."""

    path = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    version = serializers.IntegerField(help_text="the latest version")
    versions = serializers.IntegerField(source="version", help_text="how many versions the file has")
    updatedAt = serializers.DateTimeField(source="created_at")
    taskId = serializers.CharField(source="task_id", allow_null=True)


class WorkspaceFileSerializer(WorkspaceVersionSerializer):
    """One version of a file with its content."""

    path = serializers.CharField()
    versions = serializers.IntegerField(help_text="how many versions the file has")
    content = serializers.CharField(trim_whitespace=False)
