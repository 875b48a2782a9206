"""`claudeflow`: run and watch swarms, read their results, manage API keys.

Exit codes: 0 the swarm completed (or the command succeeded), 1 it failed or was stopped (or the
API refused the command), 2 a usage error (bad options, or input the server's validation refused),
130 interrupted and left running.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.prompt import Confirm
from rich.table import Table

from claudeflow import _config
from claudeflow.cli.live import LiveState, styled
from claudeflow.client import Client
from claudeflow.errors import APIError, ClaudeFlowError, Conflict, ValidationError
from claudeflow.models import Event, Swarm

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
STRATEGIES = ["auto", "research", "development", "analysis", "testing", "review", "microservices", "ai-training", "security-audit"]  # fmt: skip
MODES = ["centralized", "distributed", "hierarchical"]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


# --- plumbing -------------------------------------------------------------------------------------


class _Group(click.Group):
    """Turns library errors into a message and an exit code instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            err.print(f"[red]Error:[/] {exc}")
            ctx.exit(EXIT_USAGE)
        except APIError as exc:
            err.print(f"[red]Error:[/] {exc}")
            ctx.exit(EXIT_FAILED)
        except ClaudeFlowError as exc:
            err.print(f"[red]Error:[/] {exc}")
            ctx.exit(EXIT_FAILED)


def client_of(ctx: click.Context) -> Client:
    obj = ctx.find_root().obj
    if obj.get("client") is None:
        path = Path(obj["config"]).expanduser() if obj.get("config") else None
        settings = _config.resolve(
            obj.get("url"), obj.get("api_key"), obj.get("token"), file=_config.read_config_file(path)
        )
        obj["client"] = Client(settings=settings)
    return obj["client"]


def to_json(value: Any) -> Any:
    raw = getattr(value, "raw", None)
    if raw:
        return raw
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_json(v) for k, v in dataclasses.asdict(value).items() if k != "raw"}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    click.echo(json.dumps(to_json(value), indent=2, default=str))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url", envvar=_config.ENV_URL, help="Server URL (CLAUDEFLOW_URL; default http://127.0.0.1:8000)."
)
@click.option("--api-key", envvar=_config.ENV_KEY, help="API key (CLAUDEFLOW_API_KEY).")
@click.option("--token", envvar=_config.ENV_TOKEN, help="JWT access token (CLAUDEFLOW_TOKEN).")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Config file (default ~/.config/claudeflow/config.toml; CLAUDEFLOW_CONFIG).",
)
@click.version_option(package_name="claudeflow-client")
@click.pass_context
def main(
    ctx: click.Context, url: str | None, api_key: str | None, token: str | None, config: str | None
) -> None:
    """Run Claude-Flow swarms and watch them live."""
    ctx.obj = {"url": url, "api_key": api_key, "token": token, "config": config, "client": None}


# --- run and watch --------------------------------------------------------------------------------


@main.command()
@click.argument("objective")
@click.option("--strategy", type=click.Choice(STRATEGIES), help="Planning strategy (default auto).")
@click.option("--mode", type=click.Choice(MODES), help="Coordination mode (default centralized).")
@click.option("--max-agents", type=click.IntRange(1, 50), help="At most this many agents.")
@click.option("--budget-usd", type=click.FloatRange(min=0, min_open=True), help="Spend limit in USD.")
@click.option("--budget-tokens", type=click.IntRange(min=1), help="Spend limit in tokens.")
@click.option("--no-parallel", is_flag=True, help="Run one task at a time.")
@click.option("--name", help="A name for the swarm.")
@click.option("--watch", is_flag=True, help="A live view: progress, agents, spend, log.")
@click.option("--detach", is_flag=True, help="Print the swarm id and return at once.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write every output and file here.")
@json_option
@click.pass_context
def run(
    ctx: click.Context,
    objective: str,
    strategy: str | None,
    mode: str | None,
    max_agents: int | None,
    budget_usd: float | None,
    budget_tokens: int | None,
    no_parallel: bool,
    name: str | None,
    watch: bool,
    detach: bool,
    out_dir: str | None,
    as_json: bool,
) -> None:
    """Create a swarm for OBJECTIVE, start it, and follow it to the end."""
    if detach and (watch or out_dir):
        raise click.UsageError("--detach cannot be combined with --watch or --out")
    client = client_of(ctx)
    swarm = client.swarms.create(
        objective,
        strategy=strategy,
        mode=mode,
        max_agents=max_agents,
        parallel=False if no_parallel else None,
        name=name,
        budget_usd=budget_usd,
        budget_tokens=budget_tokens,
    )
    try:
        client.swarms.start(swarm.id)
    except Conflict:  # it ended while planning (e.g. a budget too small to plan): report how
        if not client.swarms.get(swarm.id).finished:
            raise
    if detach:
        print_json(client.swarms.get(swarm.id)) if as_json else click.echo(swarm.id)
        ctx.exit(EXIT_OK)
    if not as_json:
        err.print(f"Swarm [bold]{swarm.id}[/] started (watch it again with: claudeflow watch {swarm.id})")
    ctx.exit(follow(client, swarm.id, live=watch, as_json=as_json, out_dir=out_dir))


@main.command()
@click.argument("swarm_id")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write every output and file here.")
@json_option
@click.pass_context
def watch(ctx: click.Context, swarm_id: str, out_dir: str | None, as_json: bool) -> None:
    """Follow a swarm live until it ends."""
    ctx.exit(follow(client_of(ctx), swarm_id, live=not as_json, as_json=as_json, out_dir=out_dir))


def follow(client: Client, swarm_id: str, *, live: bool, as_json: bool, out_dir: str | None) -> int:
    swarm = client.swarms.get(swarm_id)
    state = LiveState(swarm)
    while True:
        try:
            if live:
                _follow_live(client, state)
            else:
                _follow_lines(client, state, quiet=as_json)
            break
        except KeyboardInterrupt:
            try:
                stop = Confirm.ask(f"\nStop swarm {swarm_id}?", console=err, default=False)
            except (KeyboardInterrupt, EOFError):
                stop = False
            if not stop:
                err.print(f"Left running. Follow it again with: claudeflow watch {swarm_id}")
                return EXIT_INTERRUPTED
            client.swarms.stop(swarm_id)
            err.print(f"Stopping {swarm_id} …")
    final = client.swarms.get(swarm_id)
    results = client.swarms.results(swarm_id)
    if out_dir:
        written = write_out(client, final, results, Path(out_dir))
        if not as_json:
            err.print(f"Wrote {written} files to {out_dir}")
    if as_json:
        print_json({"swarm": final.raw, "results": results.raw.get("results", {})})
    else:
        print_summary(final, results)
    return EXIT_OK if final.status == "completed" else EXIT_FAILED


def _follow_live(client: Client, state: LiveState) -> None:
    with Live(state.render(), console=out, refresh_per_second=4, transient=False) as view:
        for event in client.swarms.stream(state.swarm_id, state.last_event_id):
            state.apply(event)
            view.update(state.render())
        state.absorb(client.swarms.get(state.swarm_id))
        view.update(state.render())


def _follow_lines(client: Client, state: LiveState, *, quiet: bool) -> None:
    for event in client.swarms.stream(state.swarm_id, state.last_event_id):
        state.apply(event)
        if not quiet and (line := event_line(event)):
            err.print(line)


def event_line(event: Event) -> str | None:
    data, kind = event.data, event.event_type
    stamp = event.timestamp.strftime("%H:%M:%S") if event.timestamp else ""
    if kind.startswith("swarm."):
        return f"{stamp} {kind} {data.get('reason') or ''}".rstrip()
    if kind in ("task.started", "task.completed", "task.failed", "task.cancelled", "task.retrying"):
        extra = f" quality {data['quality']:.2f}" if data.get("quality") is not None else ""
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return f"{stamp} {kind} {data.get('name', '')}{extra}{reason}"
    if kind == "log" and data.get("level") in ("warn", "error"):
        return f"{stamp} [{data.get('level')}] {data.get('message', '')}"
    return None


def print_summary(swarm: Swarm, results: Any) -> None:
    out.print()
    out.print(f"Swarm {swarm.id} ", styled(swarm.status), f"  {swarm.objective[:80]}")
    counts = results.tasks
    out.print(
        f"Tasks: {counts.get('completed', 0)} completed, {counts.get('failed', 0)} failed, "
        f"{counts.get('cancelled', 0)} cancelled"
    )
    if swarm.failure_reason:
        out.print(f"Reason: {swarm.failure_reason}")
    quality = f"{results.overall_quality:.2f}" if results.overall_quality is not None else "-"
    out.print(
        f"Quality {quality} · time {results.total_execution_time / 1000:.1f}s · "
        f"spend ${results.spend.cost_usd:.4f} ({results.spend.total_tokens:,} tokens)"
    )
    if results.workspace:
        out.print("Files: " + ", ".join(entry.path for entry in results.workspace[:20]))


# --- --out ----------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:60] or "task"


def _safe_join(root: Path, relative: str) -> Path | None:
    """root/relative, or None if the path would leave root (absolute, '..', drive letters)."""
    target = (root / relative).resolve()
    return target if target.is_relative_to(root.resolve()) and target != root.resolve() else None


def write_out(client: Client, swarm: Swarm, results: Any, root: Path) -> int:
    """DIR/summary.json, DIR/outputs/<n>-<task>.md, DIR/artifacts/<task>/<path>, DIR/workspace/<path>."""
    root.mkdir(parents=True, exist_ok=True)
    names = {task.id: task for task in client.tasks.list(swarm.id)}
    written = 0
    (root / "summary.json").write_text(
        json.dumps({"swarm": swarm.raw, "results": results.raw.get("results", {})}, indent=2) + "\n"
    )
    written += 1
    for task_id, output in results.outputs.items():
        task = names.get(task_id)
        stem = (
            f"{task.sequence:02d}-{_slug(task.name)}"
            if task and task.sequence is not None
            else _slug(task_id)
        )
        path = root / "outputs" / f"{stem}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(output)
        written += 1
    for task_id, artifacts in results.artifacts.items():
        for artifact in artifacts:
            target = _safe_join(root / "artifacts" / _slug(task_id), artifact.path)
            if target is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(artifact.content)
                written += 1
    if results.workspace:
        written += _extract_workspace(client.workspace.zip(swarm.id), root / "workspace")
    return written


def _extract_workspace(data: bytes, root: Path) -> int:
    count = 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            inside = member.filename.split("/", 1)[1] if "/" in member.filename else member.filename
            target = _safe_join(root, inside)
            if target is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(member))
            count += 1
    return count


# --- swarms ---------------------------------------------------------------------------------------


@main.group()
def swarms() -> None:
    """List, inspect and control swarms."""


@swarms.command("ls")
@click.option("--status", help="Only swarms in this status.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many.")
@json_option
@click.pass_context
def swarms_ls(ctx: click.Context, status: str | None, limit: int, as_json: bool) -> None:
    """Your swarms, newest first."""
    items = list(client_of(ctx).swarms.list(status=status, limit=limit))
    if as_json:
        print_json(items)
        return
    table = Table("id", "status", "progress", "spend", "created", "objective", box=None)
    for swarm in items:
        progress = swarm.progress
        table.add_row(
            swarm.id,
            styled(swarm.status),
            f"{progress.completed_tasks}/{progress.total_tasks}",
            f"${swarm.spend.cost_usd:.4f}",
            swarm.created_at.strftime("%Y-%m-%d %H:%M") if swarm.created_at else "",
            swarm.objective[:60],
        )
    out.print(table)


@swarms.command("show")
@click.argument("swarm_id")
@json_option
@click.pass_context
def swarms_show(ctx: click.Context, swarm_id: str, as_json: bool) -> None:
    """A swarm with its agents and tasks."""
    client = client_of(ctx)
    swarm = client.swarms.get(swarm_id)
    agents, tasks = client.agents.list(swarm_id), client.tasks.list(swarm_id)
    if as_json:
        print_json({"swarm": swarm, "agents": agents, "tasks": tasks})
        return
    out.print(f"[bold]{swarm.id}[/] ", styled(swarm.status), f"  {swarm.strategy}/{swarm.mode}")
    out.print(swarm.objective)
    progress = swarm.progress
    out.print(
        f"{progress.completed_tasks}/{progress.total_tasks} tasks done ({progress.percent_complete}%), "
        f"spend ${swarm.spend.cost_usd:.4f}"
        + (f", reason: {swarm.failure_reason}" if swarm.failure_reason else "")
    )
    table = Table("agent", "type", "status", "done", "failed", title="Agents", box=None, title_justify="left")
    for agent in agents:
        table.add_row(
            agent.name,
            agent.type,
            styled(agent.status),
            str(agent.metrics.tasks_completed),
            str(agent.metrics.tasks_failed),
        )
    out.print(table)
    table = Table(
        "#", "task", "type", "status", "agent", "quality", title="Tasks", box=None, title_justify="left"
    )
    for task in tasks:
        quality = task.result.quality if task.result else None
        table.add_row(
            str(task.sequence or ""),
            task.name,
            task.type,
            styled(task.status),
            (task.assigned_to or {}).get("name", ""),
            f"{quality:.2f}" if quality is not None else "",
        )
    out.print(table)


@swarms.command("logs")
@click.argument("swarm_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--level", type=click.Choice(["debug", "info", "warn", "error"]), help="Minimum level.")
@json_option
@click.pass_context
def swarms_logs(ctx: click.Context, swarm_id: str, limit: int, level: str | None, as_json: bool) -> None:
    """The swarm's latest log entries."""
    entries = client_of(ctx).swarms.logs(swarm_id, limit=limit, level=level)
    if as_json:
        print_json(entries)
        return
    for entry in entries:
        stamp = entry.timestamp.strftime("%H:%M:%S") if entry.timestamp else ""
        out.print(f"{stamp} {entry.level:5} {entry.source:10} {entry.message}", markup=False)


@swarms.command("results")
@click.argument("swarm_id")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write every output and file here.")
@json_option
@click.pass_context
def swarms_results(ctx: click.Context, swarm_id: str, out_dir: str | None, as_json: bool) -> None:
    """Outputs, files, quality and spend."""
    client = client_of(ctx)
    results = client.swarms.results(swarm_id)
    if out_dir:
        written = write_out(client, client.swarms.get(swarm_id), results, Path(out_dir))
        err.print(f"Wrote {written} files to {out_dir}")
    if as_json:
        print_json(results)
        return
    print_summary(client.swarms.get(swarm_id), results)
    for task_id, output in results.outputs.items():
        out.rule(task_id)
        out.print(output, markup=False)


def _action(name: str, help_text: str) -> None:
    @swarms.command(name, help=help_text)
    @click.argument("swarm_id")
    @json_option
    @click.pass_context
    def command(ctx: click.Context, swarm_id: str, as_json: bool) -> None:
        result = getattr(client_of(ctx).swarms, name)(swarm_id)
        print_json(result) if as_json else out.print(f"{result.swarm_id}: {result.status} — {result.message}")


_action("pause", "Pause: running tasks finish, no new task starts.")
_action("resume", "Resume a paused swarm.")
_action("stop", "Stop: pending tasks cancelled, running ones aborted.")


@swarms.command("rm")
@click.argument("swarm_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@json_option
@click.pass_context
def swarms_rm(ctx: click.Context, swarm_id: str, yes: bool, as_json: bool) -> None:
    """Delete a swarm (a running one is stopped first)."""
    if not yes and not click.confirm(f"Delete swarm {swarm_id}?", err=True):
        ctx.exit(EXIT_FAILED)
    result = client_of(ctx).swarms.delete(swarm_id)
    print_json(result) if as_json else out.print(f"{result.swarm_id}: deleted")


# --- keys -----------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Your API keys."""


@keys.command("ls")
@json_option
@click.pass_context
def keys_ls(ctx: click.Context, as_json: bool) -> None:
    """Your keys (never the secret itself)."""
    items = client_of(ctx).keys.list()
    if as_json:
        print_json(items)
        return
    table = Table("id", "name", "prefix", "permissions", "active", "last used", "uses", box=None)
    for key in items:
        table.add_row(
            key.id,
            key.name,
            key.prefix,
            ",".join(key.permissions),
            "yes" if key.active else "no",
            key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "",
            str(key.usage_count),
        )
    out.print(table)


@keys.command("create")
@click.argument("name")
@click.option(
    "--permissions", default="read,write", show_default=True, help="Comma-separated: read,write,admin."
)
@click.option("--expires-in-days", type=click.IntRange(1, 3650))
@json_option
@click.pass_context
def keys_create(
    ctx: click.Context, name: str, permissions: str, expires_in_days: int | None, as_json: bool
) -> None:
    """Create a key; the secret is printed this once."""
    wanted = [p.strip() for p in permissions.split(",") if p.strip()]
    unknown = sorted(set(wanted) - {"read", "write", "admin"})
    if unknown or not wanted:
        raise click.BadParameter(f"unknown permission(s) {', '.join(unknown)}", param_hint="--permissions")
    created = client_of(ctx).keys.create(name, permissions=wanted, expires_in_days=expires_in_days)
    if as_json:
        print_json({"key": created.key, "data": created.api_key.raw})
        return
    err.print(f"Created key {created.api_key.id} ({','.join(created.api_key.permissions)}). Store it now:")
    click.echo(created.key)


@keys.command("revoke")
@click.argument("key_id")
@json_option
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str, as_json: bool) -> None:
    """Revoke a key: refused from the very next request."""
    key = client_of(ctx).keys.revoke(key_id)
    print_json(key) if as_json else out.print(f"{key.id}: revoked")
