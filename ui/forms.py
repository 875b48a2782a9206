"""Forms of the browser UI.

The Django forms only turn the posted strings into Python values; the rules themselves are the
API's serializers (run through `core.validation.validated`), so the browser and the API
accept and refuse exactly the same things, with the same messages.
"""

from __future__ import annotations

from typing import Any

from django import forms

from access.api import ApiKeyCreateSerializer
from access.models import ApiKey
from agents.registry import TOOL_NAMES, WRITE_TOOLS
from agents.serializers import AgentTypeCreateSerializer
from core.claude_models import known_models
from core.errors import ValidationFailed
from core.validation import validated
from swarms.models import Swarm
from swarms.selectors import strategies_visible
from swarms.serializers import SwarmCreateSerializer
from webhooks.serializers import WebhookCreateSerializer


def strategy_choices(user: Any = None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The built-in strategies and the user's own, grouped by kind."""
    rows = list(strategies_visible(user))
    planned = [(s.name, s.name) for s in rows if not s.is_template]
    templates = [(s.name, s.name) for s in rows if s.is_template]
    return [("Planned by Claude", planned), ("Templates (fixed task graph)", templates)]


class ApiValidatedForm(forms.Form):
    """A form whose cleaned data is checked once more by an API serializer.

    Subclasses set `serializer_class` and `field_map` and define `payload()`: the request body the
    API would have received for the cleaned data."""

    serializer_class: type[Any]
    field_map: dict[str, str]  # the serializer's field path → this form's field name

    def __init__(self, *args: Any, owner: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # labels read "Objective", not "Objective:"
        super().__init__(*args, **kwargs)
        self.owner = owner  # the serializer's context `owner`, as the API gives it

    def validate_like_the_api(self) -> dict[str, Any] | None:
        """The serializer's validated data, or None after putting its errors on the form."""
        if not self.is_valid():
            return None
        try:
            return validated(self.serializer_class, self.payload(), owner=self.owner)
        except ValidationFailed as exc:
            for detail in exc.details or []:
                self.add_error(self.field_map.get(detail["field"]), detail["message"])
            return None


class SwarmCreateForm(ApiValidatedForm):
    serializer_class = SwarmCreateSerializer
    field_map = {
        "objective": "objective",
        "strategy": "strategy",
        "mode": "mode",
        "maxAgents": "max_agents",
        "parallel": "parallel",
        "options.budget.maxTokens": "max_tokens",
        "options.budget.maxCostUsd": "max_cost_usd",
    }

    objective = forms.CharField(
        strip=False,  # the serializer trims, as the API does
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "What should the swarm achieve?"}),
        help_text="10–2000 characters.",
    )
    strategy = forms.ChoiceField(choices=strategy_choices, initial="auto")

    def __init__(self, *args: Any, owner: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, owner=owner, **kwargs)
        self.fields["strategy"].choices = strategy_choices(owner)

    mode = forms.ChoiceField(choices=Swarm.Mode.choices, initial=Swarm.Mode.CENTRALIZED)
    max_agents = forms.IntegerField(label="Max agents", initial=5, widget=forms.NumberInput(attrs={"min": 1}))
    parallel = forms.BooleanField(label="Run tasks in parallel", required=False, initial=True)
    max_tokens = forms.IntegerField(label="Budget: max tokens", required=False)
    max_cost_usd = forms.FloatField(
        label="Budget: max cost (USD)", required=False, widget=forms.NumberInput(attrs={"step": "any"})
    )
    start_now = forms.BooleanField(label="Start as soon as planned", required=False, initial=True)
    approve_plan = forms.BooleanField(label="I approve the plan before it runs", required=False)

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        budget = {
            key: data[field]
            for key, field in (("maxTokens", "max_tokens"), ("maxCostUsd", "max_cost_usd"))
            if data.get(field) is not None
        }
        options: dict[str, Any] = {"budget": budget} if budget else {}
        if data.get("approve_plan"):
            options["approvePlan"] = True
        return {
            "objective": data["objective"],
            "strategy": data["strategy"],
            "mode": data["mode"],
            "maxAgents": data["max_agents"],
            "parallel": data["parallel"],
            "options": options,
        }


class ApiKeyCreateForm(ApiValidatedForm):
    serializer_class = ApiKeyCreateSerializer
    field_map = {"name": "name", "permissions": "permissions", "expiresInDays": "expires_in_days"}

    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. ci"}))
    permissions = forms.MultipleChoiceField(
        choices=ApiKey.Permission.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=["read", "write"],
        required=False,  # the serializer says "at least one", in the API's words
    )
    expires_in_days = forms.IntegerField(
        label="Expires in (days)",
        required=False,
        widget=forms.NumberInput(attrs={"min": 1, "max": 3650}),
        help_text="Leave empty for a key that does not expire.",
    )

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        payload: dict[str, Any] = {"name": data["name"], "permissions": data["permissions"]}
        if data.get("expires_in_days") is not None:
            payload["expiresInDays"] = data["expires_in_days"]
        return payload


def model_choices() -> list[tuple[str, str]]:
    return [("", "The deployment's agent model"), *((name, name) for name in known_models())]


class AgentTypeCreateForm(ApiValidatedForm):
    serializer_class = AgentTypeCreateSerializer
    field_map = {
        "name": "name",
        "description": "description",
        "systemPrompt": "system_prompt",
        "capabilities": "capabilities",
        "model": "model",
        "tools": "tools",
        "maxTurns": "max_turns",
    }

    name = forms.CharField(max_length=40, widget=forms.TextInput(attrs={"placeholder": "e.g. sql-expert"}))
    description = forms.CharField(max_length=500, required=False)
    system_prompt = forms.CharField(
        label="System prompt",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "You are a … Do only your task."}),
    )
    capabilities = forms.CharField(
        help_text="Comma-separated flags, e.g. sql, analysis (tasks require them by name)."
    )
    model = forms.ChoiceField(choices=model_choices, required=False)
    tools = forms.MultipleChoiceField(
        choices=[(name, name) for name in TOOL_NAMES],
        widget=forms.CheckboxSelectMultiple,
        initial=list(WRITE_TOOLS),
        required=False,
        help_text="None: the agent answers in plain text.",
    )
    max_turns = forms.IntegerField(
        label="Max turns", required=False, help_text="Leave empty for the deployment's TASK_MAX_TURNS."
    )

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        flags = [flag.strip() for flag in data["capabilities"].split(",") if flag.strip()]
        return {
            "name": data["name"],
            "description": data.get("description", ""),
            "systemPrompt": data["system_prompt"],
            "capabilities": flags,
            "model": data.get("model") or None,
            "tools": data.get("tools") or [],
            "maxTurns": data.get("max_turns"),
        }


class WebhookCreateForm(ApiValidatedForm):
    serializer_class = WebhookCreateSerializer
    field_map = {"url": "url", "events": "events", "swarmId": "swarm_id", "description": "description"}

    url = forms.CharField(
        label="Target URL",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/claudeflow-hook"}),
    )
    events = forms.CharField(
        label="Event types",
        initial="swarm.*, task.completed",
        help_text="Comma separated; globs like task.* or * for every event.",
    )
    swarm_id = forms.CharField(
        label="Only this swarm (optional)", required=False, help_text="A swarm id of yours; empty for all."
    )
    description = forms.CharField(max_length=200, required=False)

    def payload(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "url": data["url"],
            "events": [item.strip() for item in data["events"].split(",") if item.strip()],
            "swarmId": data.get("swarm_id", "").strip(),
            "description": data.get("description", ""),
        }

    def add_service_errors(self, error: ValidationFailed) -> None:
        for detail in error.details or []:
            self.add_error(self.field_map.get(detail["field"]), detail["message"])
