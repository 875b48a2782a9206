"""Browser pages: thin views over the same services, validation and access rules as the REST API.

A swarm the user may not see is a 404 (never a 403), exactly as in the API. Every page is rendered
on the server; the swarm page then follows the WebSocket stream from the last event id it was
rendered at, so nothing that happens between render and subscribe is missed.
"""

from __future__ import annotations

import posixpath
import unicodedata
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_ratelimit.core import get_usage

from access.models import ApiKey
from access.services import apikey_create, apikey_revoke
from agents.models import Agent
from agents.selectors import agent_types_visible
from agents.serializers import AgentTypeCreateSerializer
from agents.services import agent_type_create
from core.errors import ApplicationError, NotFound
from core.validation import validated
from events.models import Event, LogEntry
from swarms import reports, services
from swarms.access import access_swarm
from swarms.budget import budget_of
from swarms.models import Swarm
from swarms.selectors import plan_summary, strategies_visible
from swarms.serializers import RejectSerializer, SwarmCreateSerializer, progress_of, spend_of
from tasks.models import ClaudeCall, Task
from ui.forms import AgentTypeCreateForm, ApiKeyCreateForm, SwarmCreateForm
from ui.markdown import render_markdown
from ui.workspace import workspace_context
from workspaces import services as workspace_services
from workspaces.archive import workspace_zip

PAGE_SIZE = 20
INITIAL_LOG_LINES = 200
NEW_KEY_SESSION_KEY = "ui.new_api_key"
TASK_GROUPS = {  # the swarm page's columns, by task status
    "pending": ("pending",),
    "running": ("assigned", "running"),
    "awaiting": ("awaiting_approval",),
    "completed": ("completed",),
    "failed": ("failed", "cancelled"),
}


GROUP_TITLES = {"failed": "Failed / cancelled", "awaiting": "Awaiting approval"}


# --- helpers -------------------------------------------------------------------------------------


def visible_swarm(user: Any, swarm_id: str) -> Swarm:
    """The API's access rule (swarms.access), as a page's 404."""
    try:
        return access_swarm(user=user, swarm_id=swarm_id)
    except NotFound:
        raise Http404("Swarm not found") from None


def tokens_text(count: int) -> str:
    return f"{count:,} tokens"


def usd_text(amount: float) -> str:
    return f"${amount:,.4f}"


def spend_view(row: Any) -> dict[str, Any]:
    """The API's spend block plus the strings the pages show (the JS formats the same way)."""
    spend = spend_of(row)
    return {**spend, "text": f"{tokens_text(spend['totalTokens'])} · {usd_text(spend['costUsd'])}"}


# --- dashboard ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dashboard(request: HttpRequest) -> HttpResponse:
    form = SwarmCreateForm(request.POST if request.method == "POST" else None, owner=request.user)
    status = 200
    if request.method == "POST":
        outcome = create_swarm(request, form)
        if isinstance(outcome, HttpResponse):
            return outcome
        status = outcome
    context = {"form": form, "page": swarm_page(request), "show_owner": request.user.is_staff}
    return render(request, "ui/dashboard.html", context, status=status)


def swarm_page(request: HttpRequest) -> Any:
    swarms = Swarm.objects.visible_to(request.user).with_progress().select_related("owner")
    page = Paginator(swarms.order_by("-created_at"), PAGE_SIZE).get_page(request.GET.get("page"))
    page.rows = [{"swarm": s, "progress": progress_of(s), "spend": spend_view(s)} for s in page]
    return page


def create_swarm(request: HttpRequest, form: SwarmCreateForm) -> HttpResponse | int:
    """Redirects to the new swarm, or returns the status code to re-render the form with."""
    data = form.validate_like_the_api()
    if data is None:
        return 400
    wait = seconds_until_allowed(request)
    if wait:
        form.add_error(None, f"You are creating swarms too quickly. Try again in {wait} s.")
        return 429
    try:
        swarm = services.swarm_create(owner=request.user, **SwarmCreateSerializer.service_arguments(data))
    except ApplicationError as exc:  # LimitExceeded (maxSwarms) or Conflict
        form.add_error(None, exc.message)
        return 409
    messages.success(request, "Swarm created; Claude is planning it.")
    if form.cleaned_data["start_now"]:
        start_or_warn(request, swarm.id)
    return redirect("ui:swarm", swarm_id=swarm.id)


def seconds_until_allowed(request: HttpRequest) -> int:
    """The API's swarm-creation limit (same group and key, so browser and API share one budget);
    only attempts that would create a swarm count."""
    usage = get_usage(
        request,
        group="swarm-create",
        key=lambda group, req: f"user:{req.user.pk}",
        rate=settings.SWARM_CREATE_RATE,
        increment=True,
    )
    if usage and usage["should_limit"]:
        return max(1, int(usage["time_left"]))
    return 0


def start_or_warn(request: HttpRequest, swarm_id: str) -> None:
    try:
        services.swarm_start(swarm_id=swarm_id)  # allowed during planning: it starts when planned
    except ApplicationError as exc:
        messages.warning(request, exc.message)


# --- swarm page ---------------------------------------------------------------------------------


@login_required
@require_safe
def swarm_detail(request: HttpRequest, swarm_id: str) -> HttpResponse:
    visible_swarm(request.user, swarm_id)
    # Event id first, state second: whatever happens in between is both in the state and replayed
    # (the JS applies events idempotently), so nothing can fall between the two.
    last_event_id = (
        Event.objects.filter(swarm_id=swarm_id).order_by("-id").values_list("id", flat=True).first()
    )
    swarm = Swarm.objects.with_progress().get(pk=swarm_id)
    state = swarm_state(swarm)
    context = {
        "swarm": swarm,
        "state": state,
        "plan": plan_view(swarm) if swarm.status == Swarm.Status.AWAITING_APPROVAL else None,
        "awaiting": awaiting_outputs(swarm),
        "retryable": retryable(state["tasks"], swarm),
        "groups": group_tasks(state["tasks"]),
        "progress": progress_of(swarm),
        "last_event_id": last_event_id or 0,
        "logs": recent_logs(swarm),
        "terminal": swarm.status in Swarm.TERMINAL,
    }
    return render(request, "ui/swarm.html", context)


def plan_view(swarm: Swarm) -> dict[str, Any]:
    """The plan as the API shows it, each task's dependencies as the numbers of the list."""
    plan = plan_summary(swarm)
    number = {t["id"]: n for n, t in enumerate(plan["tasks"], start=1)}
    for task in plan["tasks"]:
        task["after"] = [number[d] for d in task["dependencies"] if d in number]
    return plan


def retryable(tasks: list[dict[str, Any]], swarm: Swarm) -> list[dict[str, Any]]:
    """Failed and cancelled tasks, where a retry can run them (not in a stopped swarm)."""
    if swarm.status == Swarm.Status.STOPPED:
        return []
    return [t for t in tasks if t["status"] in (Task.Status.FAILED, Task.Status.CANCELLED)]


def awaiting_outputs(swarm: Swarm) -> list[dict[str, Any]]:
    """Task outputs waiting for the user's approval, rendered for reading."""
    return [
        {"id": t.id, "name": t.name, "description": t.description, "html": render_markdown(t.output)}
        for t in Task.objects.filter(swarm=swarm, status=Task.Status.AWAITING_APPROVAL).order_by("sequence")
    ]


def swarm_state(swarm: Swarm) -> dict[str, Any]:
    """What the page shows and the JS keeps up to date (also sent as JSON to the script)."""
    agents = Agent.objects.filter(swarm=swarm).order_by("created_at", "instance")
    tasks = list(
        Task.objects.filter(swarm=swarm)
        .select_related("assigned_agent")
        .prefetch_related("dependencies")
        .order_by("sequence")
    )
    names = {t.id: t.name for t in tasks}
    return {
        "swarm": {
            "id": swarm.id,
            "status": swarm.status,
            "failureReason": swarm.failure_reason,
            "startRequested": swarm.start_requested,
            "spend": spend_view(swarm),
            "budget": budget_of(swarm.options),
        },
        "agents": [agent_state(a) for a in agents],
        "tasks": [task_state(t, names) for t in tasks],
    }


def agent_state(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "type": agent.type,
        "status": agent.status,
        "tasksCompleted": agent.tasks_completed,
        "spend": spend_view(agent),
    }


def task_state(task: Task, names: dict[str, str]) -> dict[str, Any]:
    agent = task.assigned_agent
    dependencies = [dep.id for dep in task.dependencies.all()]
    return {
        "id": task.id,
        "sequence": task.sequence,
        "name": task.name,
        "status": task.status,
        "assignedTo": {"id": agent.id, "name": agent.name} if agent else None,
        "dependencies": dependencies,
        "dependencyNames": [names.get(d, d) for d in dependencies],
        "spend": spend_view(task),
        "error": task.error or task.failure_reason or None,
        "outputPreview": task.output[:300],
    }


def group_tasks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"key": key, "title": GROUP_TITLES.get(key, key.capitalize()),
         "tasks": [t for t in tasks if t["status"] in statuses]}
        for key, statuses in TASK_GROUPS.items()
    ]  # fmt: skip


def recent_logs(swarm: Swarm) -> list[LogEntry]:
    return list(reversed(LogEntry.objects.filter(swarm=swarm).order_by("-id")[:INITIAL_LOG_LINES]))


@login_required
@require_safe
def swarm_state_json(request: HttpRequest, swarm_id: str) -> JsonResponse:
    """Exact spend: task events carry task spend, not the planner's or reviewer's, and a stopped run's
    cut-off calls are settled after the stop; the live page fetches this to catch up."""
    swarm = visible_swarm(request.user, swarm_id)
    state = swarm_state(swarm)
    tasks = [{"id": task["id"], "spend": task["spend"]} for task in state["tasks"]]
    return JsonResponse({"swarm": state["swarm"], "agents": state["agents"], "tasks": tasks})


@login_required
@require_POST
def swarm_start(request: HttpRequest, swarm_id: str) -> HttpResponse:
    swarm = visible_swarm(request.user, swarm_id)
    start_or_warn(request, swarm.id)
    return redirect("ui:swarm", swarm_id=swarm.id)


def _command(request: HttpRequest, swarm_id: str, run: Any, done: str) -> HttpResponse:
    """Runs a swarm or task command for the page, with the API's rules and messages; back to the
    swarm's page (a clone's own page for a clone)."""
    swarm = visible_swarm(request.user, swarm_id)
    try:
        result = run(swarm)
    except ApplicationError as exc:
        details = "; ".join(d["message"] for d in (exc.details or []) if isinstance(d, dict))
        messages.warning(request, details or exc.message)
        return redirect("ui:swarm", swarm_id=swarm.id)
    except Task.DoesNotExist:
        raise Http404("Task not found") from None
    messages.success(request, done)
    target = result.id if isinstance(result, Swarm) else swarm.id
    return redirect("ui:swarm", swarm_id=target)


def _reject_arguments(request: HttpRequest) -> dict[str, Any]:
    if request.POST.get("cancel"):
        return {"cancel": True}
    return validated(RejectSerializer, {"feedback": request.POST.get("feedback", "")})


@login_required
@require_POST
def swarm_approve(request: HttpRequest, swarm_id: str) -> HttpResponse:
    def run(swarm: Swarm) -> Swarm:
        if request.POST.get("start") and not swarm.start_requested:
            services.swarm_start(swarm_id=swarm.id)  # remembered: it begins as the plan is approved
        return services.swarm_approve(swarm_id=swarm.id)

    return _command(request, swarm_id, run, "Plan approved.")


@login_required
@require_POST
def swarm_reject(request: HttpRequest, swarm_id: str) -> HttpResponse:
    def run(swarm: Swarm) -> Swarm:
        return services.swarm_reject(swarm_id=swarm.id, **_reject_arguments(request))

    return _command(request, swarm_id, run, "Plan rejected.")


@login_required
@require_POST
def swarm_clone(request: HttpRequest, swarm_id: str) -> HttpResponse:
    def run(swarm: Swarm) -> Swarm:
        return services.swarm_clone(swarm_id=swarm.id, owner=request.user)

    return _command(request, swarm_id, run, "Cloned: this copy is ready to start.")


@login_required
@require_POST
def task_approve(request: HttpRequest, swarm_id: str, task_id: str) -> HttpResponse:
    def run(swarm: Swarm) -> Task:
        return services.swarm_approve_task(swarm_id=swarm.id, task_id=task_id)

    return _command(request, swarm_id, run, "Output approved.")


@login_required
@require_POST
def task_reject(request: HttpRequest, swarm_id: str, task_id: str) -> HttpResponse:
    def run(swarm: Swarm) -> Task:
        return services.swarm_reject_task(swarm_id=swarm.id, task_id=task_id, **_reject_arguments(request))

    return _command(request, swarm_id, run, "Output rejected.")


@login_required
@require_POST
def task_retry(request: HttpRequest, swarm_id: str, task_id: str) -> HttpResponse:
    def run(swarm: Swarm) -> Task:
        return services.swarm_retry_task(swarm_id=swarm.id, task_id=task_id)

    return _command(request, swarm_id, run, "Task queued to run again.")


# --- results ------------------------------------------------------------------------------------


@login_required
@require_safe
def swarm_results(request: HttpRequest, swarm_id: str) -> HttpResponse:
    swarm = visible_swarm(request.user, swarm_id)
    results, metrics = reports.results(swarm), reports.metrics(swarm)
    tasks = list(Task.objects.filter(swarm=swarm).select_related("assigned_agent").order_by("sequence"))
    agents = list(Agent.objects.filter(swarm=swarm).order_by("created_at", "instance"))
    context = {
        "swarm": swarm,
        "figures": figures(results, metrics),
        "task_spend": [(t.name, spend_view(t)) for t in tasks],
        "agent_spend": [(a.name, spend_view(a)) for a in agents] + calls_of_no_agent(swarm),
        "total_spend": spend_view(swarm),
        "tasks": [task_result(swarm, t) for t in tasks],
        "terminal": swarm.status in Swarm.TERMINAL,
        "workspace": workspace_context(swarm.id, request, tasks),
    }
    return render(request, "ui/results.html", context)


NO_AGENT_LABELS = {
    ClaudeCall.Role.PLANNER: "Planning (no agent)",
    ClaudeCall.Role.REVIEWER: "Reviews (no agent)",
    ClaudeCall.Role.AGENT: "Calls of agents since removed",
}


def calls_of_no_agent(swarm: Swarm) -> list[tuple[str, dict[str, Any]]]:
    """ "Spend by agent" rows for the calls no agent made: the planner's, and the reviews outside
    hierarchical mode (there the coordinator agent reviews and is billed), so the table adds up."""
    rows = (
        ClaudeCall.objects.filter(swarm=swarm, agent__isnull=True)
        .values("role")
        .annotate(
            input_tokens=Sum("input_tokens"), output_tokens=Sum("output_tokens"), cost_usd=Sum("cost_usd")
        )
        .order_by("role")
    )
    return [
        (NO_AGENT_LABELS.get(row["role"], row["role"]), spend_view(SimpleNamespace(**row)))
        for row in rows
        if row["input_tokens"] or row["output_tokens"] or row["cost_usd"]
    ]


def task_result(swarm: Swarm, task: Task) -> dict[str, Any]:
    artifacts = [
        {
            "index": index,
            "path": str(item.get("path", "")),
            "language": str(item.get("language", "")),
            "size": len(str(item.get("content", "")).encode()),
        }
        for index, item in enumerate(task.artifacts if isinstance(task.artifacts, list) else [])
        if isinstance(item, dict)
    ]
    return {
        "task": task,
        "html": render_markdown(task.output) if task.output else "",
        "artifacts": artifacts,
        "spend": spend_view(task),
    }


def figures(results: dict[str, Any], metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """Every figure of /results and /metrics, formatted for people (README: Results and metrics)."""
    tasks, calls, tokens = metrics["tasks"], metrics["claudeCalls"], metrics["tokens"]
    resources = metrics["resourceUtilization"]
    return [
        ("Overall quality", number(results["overallQuality"], "{:.2f}")),
        ("Makespan", seconds(results["totalExecutionTime"])),
        ("Task execution time", seconds(results["taskExecutionTime"])),
        ("Efficiency", percent(results["efficiency"])),
        ("Throughput", number(metrics["throughput"], "{:.2f} tasks/min")),
        ("Latency (mean task)", seconds(metrics["latency"])),
        ("Reliability", percent(metrics["reliability"])),
        ("Agent utilization", percent(metrics["agentUtilization"])),
        ("Tasks", ", ".join(f"{n} {status}" for status, n in tasks.items() if n) or "none"),
        ("Tokens", f"{tokens['total']:,} ({tokens['input']:,} in, {tokens['output']:,} out)"),
        ("Cost", usd_text(metrics["costUsd"])),
        ("Claude calls", f"{calls['total']} ({calls['failed']} failed, {calls['retries']} retries)"),
        ("Server process", f"{resources['memory'] / 1_048_576:.0f} MB, {resources['cpu']:.2f} CPU"),
    ]


def number(value: float | None, template: str) -> str:
    return "—" if value is None else template.format(value)


def seconds(ms: float | None) -> str:
    return "—" if ms is None else f"{ms / 1000:,.1f} s"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


@login_required
@require_safe
def artifact_download(request: HttpRequest, swarm_id: str, task_id: str, index: int) -> HttpResponse:
    swarm = visible_swarm(request.user, swarm_id)
    task = Task.objects.filter(pk=task_id, swarm=swarm).only("artifacts").first()
    items = task.artifacts if task is not None and isinstance(task.artifacts, list) else []
    if not 0 <= index < len(items) or not isinstance(items[index], dict):
        raise Http404("Artifact not found")
    artifact = items[index]
    response = HttpResponse(str(artifact.get("content", "")), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, download_name(artifact.get("path")))
    return response


def download_name(path: Any) -> str:
    """The artifact path's last part, without anything that could break the header."""
    name = posixpath.basename(str(path or "").replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in '"')
    return name.strip(" .") or "artifact.txt"


@login_required
@require_safe
def workspace_zip_download(request: HttpRequest, swarm_id: str) -> HttpResponse:
    swarm = visible_swarm(request.user, swarm_id)
    name = f"{swarm.id}-workspace"
    try:
        data = workspace_zip(swarm_id=swarm.id, folder=name)
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain; charset=utf-8")
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.zip")
    return response


@login_required
@require_safe
def workspace_file_download(request: HttpRequest, swarm_id: str) -> HttpResponse:
    """One version of one file (`?file=…&version=…`) as a text download."""
    swarm = visible_swarm(request.user, swarm_id)
    raw_version = request.GET.get("version", "")
    try:
        version = int(raw_version) if raw_version.isascii() and raw_version.isdigit() else None
        file = workspace_services.file_read(
            swarm_id=swarm.id, path=request.GET.get("file", ""), version=version
        )
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain; charset=utf-8")
    response = HttpResponse(file.content, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, download_name(file.path))
    return response


# --- API keys -----------------------------------------------------------------------------------


@never_cache  # the page that shows a new key once must not be kept by the browser
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        data = form.validate_like_the_api()
        if data is not None:
            create_key(request, data)
            return redirect("ui:keys")  # a reload of the next page must not create another key
    context = {
        "form": form,
        "keys": [(key, key_status(key)) for key in ApiKey.objects.for_owner(request.user)],
        "new_key": request.session.pop(NEW_KEY_SESSION_KEY, None),  # shown once
    }
    return render(request, "ui/keys.html", context, status=400 if form.errors else 200)


def create_key(request: HttpRequest, data: dict[str, Any]) -> None:
    days = data.get("expiresInDays")
    key, raw = apikey_create(
        owner=request.user,
        name=data["name"],
        permissions=data["permissions"],
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    request.session[NEW_KEY_SESSION_KEY] = {"id": key.id, "name": key.name, "raw": raw}


def key_status(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return "active" if key.is_active else "expired"


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: str) -> HttpResponse:
    key = ApiKey.objects.for_owner(request.user).filter(pk=key_id).first()
    if key is None:
        raise Http404("API key not found")
    try:
        apikey_revoke(key_id=key.id)
        messages.success(request, f"API key “{key.name}” revoked.")
    except ApplicationError as exc:  # already revoked
        messages.error(request, exc.message)
    return redirect("ui:keys")


# --- agent types --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def agent_types(request: HttpRequest) -> HttpResponse:
    """The built-in types and the user's own, and a form to add one (the API's rules)."""
    form = AgentTypeCreateForm(request.POST if request.method == "POST" else None, owner=request.user)
    status = 200
    if request.method == "POST":
        data = form.validate_like_the_api()
        status = 400
        if data is not None:
            try:
                row = agent_type_create(
                    owner=request.user, name=data["name"], **AgentTypeCreateSerializer.service_arguments(data)
                )
            except ApplicationError as exc:  # a built-in's name, or one of the user's own
                form.add_error("name", exc.message)
                status = exc.status_code
            else:
                messages.success(request, f"Agent type “{row.name}” created.")
                return redirect("ui:agent-types")
    context = {
        "form": form,
        "types": agent_types_visible(request.user),
        "strategies": strategies_visible(request.user),
    }
    return render(request, "ui/agent_types.html", context, status=status)
