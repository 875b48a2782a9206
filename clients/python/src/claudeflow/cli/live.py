"""The live terminal view of a running swarm, built from its event stream alone (no polling: the
API's rate limit is 100 requests per 15 minutes by default)."""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from claudeflow.models import Event, Swarm

STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "stopped": "yellow",
    "cancelled": "yellow",
    "running": "cyan",
    "busy": "cyan",
    "executing": "cyan",
    "paused": "magenta",
    "planning": "blue",
}


def styled(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


class LiveState:
    """What the view shows, updated event by event."""

    def __init__(self, swarm: Swarm, log_lines: int = 6) -> None:
        self.swarm_id = swarm.id
        self.objective = swarm.objective
        self.status = swarm.status
        self.budget = swarm.budget
        self.base_cost = swarm.spend.cost_usd  # includes the plan, which no task event carries
        self.base_tokens = swarm.spend.total_tokens
        self.tasks: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        self.logs: deque[str] = deque(maxlen=log_lines)
        self.reason = swarm.failure_reason or ""
        self.last_event_id = 0

    # --- events -----------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        self.last_event_id = max(self.last_event_id, event.event_id)
        kind, data = event.event_type, event.data
        if kind.startswith("swarm."):
            self.status = data.get("status") or self.status
            self.reason = data.get("reason") or self.reason
            if event.terminal:
                self.logs.append(f"swarm {self.status}" + (f": {self.reason}" if self.reason else ""))
        elif kind.startswith("task."):
            task = self.tasks.setdefault(data.get("id", "?"), {})
            task.update(
                name=data.get("name", ""),
                status=data.get("status", ""),
                agent=data.get("agentId"),
                spend=data.get("spend") or {},
            )
            if kind in ("task.failed", "task.retrying", "task.cancelled"):
                reason = data.get("reason") or data.get("error") or ""
                self.logs.append(f"{kind} {data.get('name', '')}: {reason}")
            elif kind in ("task.started", "task.completed"):
                quality = f" (quality {data['quality']:.2f})" if data.get("quality") is not None else ""
                self.logs.append(f"{kind} {data.get('name', '')}{quality}")
        elif kind.startswith("agent."):
            agent = self.agents.setdefault(data.get("id", "?"), {})
            for key in ("name", "type", "status"):
                if data.get(key):
                    agent[key] = data[key]
            if kind == "agent.status_changed":
                agent["task"] = data.get("taskId")
        elif kind == "log":
            self.logs.append(f"[{data.get('level', '')}] {data.get('message', '')}")
        elif kind == "budget.exceeded":
            self.logs.append("budget exceeded")

    def absorb(self, swarm: Swarm) -> None:
        """The swarm as the API reports it (the final spend includes the plan and the reviews)."""
        self.status, self.reason = swarm.status, swarm.failure_reason or self.reason
        self.base_cost, self.base_tokens = swarm.spend.cost_usd, swarm.spend.total_tokens

    # --- figures ------------------------------------------------------------------------------------

    def counts(self) -> tuple[int, int, int]:
        statuses = [task.get("status") for task in self.tasks.values()]
        return len(statuses), statuses.count("completed"), statuses.count("failed")

    def spend(self) -> tuple[float, int]:
        cost = sum(float(task["spend"].get("costUsd") or 0) for task in self.tasks.values())
        tokens = sum(int(task["spend"].get("totalTokens") or 0) for task in self.tasks.values())
        return max(cost, self.base_cost), max(tokens, self.base_tokens)

    def spend_line(self) -> Text:
        cost, tokens = self.spend()
        text = Text(f"Spend ${cost:.4f}")
        if self.budget.get("maxCostUsd"):
            limit = float(self.budget["maxCostUsd"])
            text.append(f" of ${limit:.2f} budget ({100 * cost / limit:.0f}%)")
        text.append(f" · {tokens:,} tokens")
        if self.budget.get("maxTokens"):
            limit_tokens = int(self.budget["maxTokens"])
            text.append(f" of {limit_tokens:,} ({100 * tokens / limit_tokens:.0f}%)")
        return text

    # --- rendering ----------------------------------------------------------------------------------

    def render(self) -> RenderableType:
        total, done, failed = self.counts()
        header = Text.assemble((self.swarm_id, "bold"), "  ", styled(self.status), f"  {self.objective[:70]}")
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            "Tasks",
            ProgressBar(total=max(total, 1), completed=done, width=40),
            f"{done}/{total} done" + (f", {failed} failed" if failed else ""),
        )
        agents = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for column in ("agent", "type", "status", "task"):
            agents.add_column(column)
        for agent in self.agents.values():
            task = self.tasks.get(agent.get("task") or "", {}).get("name", "")
            agents.add_row(
                agent.get("name", ""), agent.get("type", ""), styled(agent.get("status", "")), task
            )
        logs = Text("\n".join(self.logs) or "…", style="dim")
        parts: list[RenderableType] = [
            header,
            bar,
            self.spend_line(),
            agents,
            Panel(logs, title="log", title_align="left"),
        ]
        return Group(*parts)
