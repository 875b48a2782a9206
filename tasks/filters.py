"""Filters of a swarm's task list and of its Claude calls (core.filters)."""

from __future__ import annotations

import django_filters

from tasks.models import ClaudeCall, Task


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Task.Status.choices, help_text="only tasks in this status")

    class Meta:
        model = Task
        fields = ["status"]


class CallFilter(django_filters.FilterSet):
    taskId = django_filters.CharFilter(
        field_name="task_id", max_length=40, help_text="only this task's calls"
    )

    class Meta:
        model = ClaudeCall
        fields = ["taskId"]
