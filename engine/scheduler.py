"""The scheduler: a freed slot goes at once to the next ready task of any swarm, fairly.

`fill()` runs whenever a slot may have freed or work may have appeared: in the worker that just
finished a task, and as the `schedule` actor after a swarm starts or resumes, or a task or agent
is added. It takes ready work round-robin across owners (fewest running first), then across an
owner's swarms, then by priority, within MAX_CONCURRENT_TASKS deployment-wide,
MAX_CONCURRENT_TASKS_PER_USER per owner and each swarm's own limit (one task at a time when
parallel=false, else one per live agent). Who gets a swarm's task depends on its mode:
- centralized / hierarchical: the coordinator gives each ready task the best-fitting idle agent
  (fewest capabilities beyond what the task needs, then the least loaded);
- distributed: the agents pull: each idle agent, longest idle first, takes the highest-priority
  ready task it can do (no best-fit choice).
The decisions are taken under a deployment-wide gate held only for the choice and two conditional
updates per task; the events go out when the worker claims the task, under its swarm's lock.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef
from django.db.models.expressions import RawSQL
from django.utils import timezone

from agents.models import Agent
from agents.services import agent_occupy_step, agent_release
from core import jobs
from core.prepared import Prepared, update_chain
from engine import resources
from swarms.locks import gate
from swarms.models import Swarm
from tasks.models import Task
from tasks.services import OPEN, task_assign_step, task_claim_step, task_claimed, task_unassign

logger = logging.getLogger(__name__)
FIRST_LOOK, MAX_LOOK = 4, 200  # ready tasks read per swarm: at first (2 per idle agent at least), at most
TASK_COLUMNS = (
    "id",
    "swarm_id",
    "assignment_seq",
    "pinned",
    "assigned_agent_id",
    "requirements",
    "agent_type",
    "priority",
    "sequence",
)
AGENT_COLUMNS = ("id", "swarm_id", "type", "status", "capabilities", "tasks_completed", "created_at")
SWARM_COLUMNS = ("swarm__owner_id", "swarm__mode", "swarm__parallel", "swarm__created_at")


@dataclass(slots=True)
class _Agent:
    """What the choice needs of a live agent (a row, not a model: read for every freed slot)."""

    id: str
    swarm_id: str
    type: str
    status: str
    capabilities: dict[str, Any]
    tasks_completed: int
    created_at: Any

    has_capabilities = Agent.has_capabilities


@dataclass
class _Swarm:
    id: str
    owner_id: Any
    mode: str
    parallel: bool
    created_at: Any = None
    running: int = 0
    ready: list[Task] | None = None  # its first ready tasks, by priority: read on its first visit
    agents: list[_Agent] = field(default_factory=list)  # live, longest idle first
    picks: deque[tuple[Task, _Agent]] | None = None  # computed on the first visit


@dataclass
class _Owner:
    id: Any
    running: int
    swarms: deque[_Swarm] = field(default_factory=deque)


@dataclass
class Filled:
    assigned: list[tuple[str, int]] = field(default_factory=list)  # (task id, assignment seq)
    busy: set[str] = field(default_factory=set)  # seen with work: pending with live agents, or in flight


def fill(*, keep_one: bool = False) -> Filled:
    """Assigns as many ready tasks as there is room for. Every assignment gets its run message
    after commit, except, with `keep_one`, the first: the caller (a worker thread that just freed
    the slot) runs it itself, sparing the queue hop; if it dies first, housekeeping re-sends the
    stale assignment. `busy` spares the caller a settling query for a swarm seen with work.

    Everything is read under the gate (read before it, the same first ready tasks would be fought
    over by every process that freed a slot, each losing conditional update a wasted statement);
    the reads are small, and a swarm's first few ready tasks (two per idle agent) are read only when
    the rotation reaches it: none when no slot is free, one swarm's when one slot is."""
    if _deferred():
        return Filled()
    try:
        with transaction.atomic():
            gate("dispatch")  # lock: MAX_CONCURRENT_TASKS counts the in-flight tasks of every process
            swarms, filled, in_flight = _candidates()
            if swarms:
                _assign(swarms, filled, in_flight)
            for task_id, seq in filled.assigned[1 if keep_one else 0 :]:
                jobs.send_on_commit(jobs.RUN_TASK, task_id, seq)
            return filled
    except Exception:
        logger.exception("scheduling failed; the next slot release or housekeeping retries it")
        return Filled()


@dataclass(frozen=True)
class Claim:
    """A hand-over to the thread that runs the task next: the task is assigned and claimed in one
    conditional update, and read with what running it needs (`read`: the runner's columns)."""

    owner: str
    lease_until: Any
    read: Prepared


@dataclass(frozen=True)
class Handed:
    task_id: str
    assignment_seq: int
    claimed: Task | None = None  # with a Claim: the task, running, with its swarm and agent


def hand_over(task: Task, claim: Claim | None = None) -> Handed | None:
    """Inside the transaction that completed `task` and released its agent (PostgreSQL only): the
    freed slot goes straight to the next ready task of the same swarm, on the same agent, without
    the deployment-wide gate — when that is the choice `fill()` would make: no other agent is
    idle on a swarm with a ready task (no other swarm waits for a slot, and this agent is its
    swarm's only choice), the task's type is this agent's (or none) and its capabilities fit.

    The in-flight counts never see the slot free (one task leaves it and the next enters it in
    the same commit), so MAX_CONCURRENT_TASKS, the owner's share and the swarm's own limit hold as
    they did; the ready tasks are read FOR UPDATE SKIP LOCKED and the agent is the one this
    transaction just released, so it waits for no other transaction's lock. With a `claim` the
    task goes from pending to running at once (its run message is never needed). Returns the
    assignment, or None: the caller's `fill()` then runs as before."""
    agent = task.assigned_agent
    if connection.vendor != "postgresql" or agent is None or _deferred():
        return None
    me = _Agent(agent.id, task.swarm_id, agent.type, Agent.Status.IDLE, agent.capabilities, 0, None)
    read = claim.read if claim is not None else _SUCCESSORS
    for candidate in read.read(swarm_id=task.swarm_id, agent_id=agent.id):
        if not eligible(me, candidate, {me.type, candidate.agent_type}):
            continue
        if claim is None and _take(candidate, me):
            return Handed(candidate.id, candidate.assignment_seq + 1)
        if claim is not None and _take_claimed(candidate, agent, claim):
            return Handed(candidate.id, candidate.assignment_seq, claimed=candidate)
    return None


def _take_claimed(task: Task, agent: Agent, claim: Claim) -> bool:
    """The agent (this transaction released it: its row is locked by it), then the task (read FOR
    UPDATE by it), in one statement; both or neither."""
    now = timezone.now()
    occupied, claimed = update_chain(
        agent_occupy_step(agent_id=agent.id),
        task_claim_step(
            task=task, agent_id=agent.id, owner=claim.owner, lease_until=claim.lease_until, now=now
        ),
    )
    if occupied and not claimed:
        agent_release(swarm_id=task.swarm_id, agent_id=agent.id)
    if not claimed:
        return False
    task_claimed(task=task, owner=claim.owner, lease_until=claim.lease_until, now=now, assigned_to=agent)
    return True


def fill_on_commit() -> None:
    transaction.on_commit(lambda: fill())


# the scheduler's reads, compiled once per process (core/prepared.py): they run for every task
def _in_flight() -> Any:
    return (
        Task.objects.in_flight().values_list("swarm_id", "swarm__owner_id").annotate(n=Count("id")).order_by()
    )


def _live_agents(vendor: str) -> Any:
    """The live agents of the swarms with pending work, each row with its swarm's columns; on
    PostgreSQL each row also carries the in-flight counts (one JSON array, computed once by the
    server), so the gate is held over one read instead of two."""
    agents = (
        Agent.objects.filter(swarm__status=Swarm.Status.EXECUTING)
        .filter(Exists(Task.objects.filter(swarm=OuterRef("swarm_id"), status=Task.Status.PENDING)))
        .live()
        .order_by("idle_since", "created_at")
    )
    if vendor != "postgresql":
        return agents.values_list(*AGENT_COLUMNS, *SWARM_COLUMNS)
    sql, params = _in_flight().query.sql_with_params()
    in_flight = RawSQL(f"SELECT json_agg(json_build_array(f.a, f.b, f.n)) FROM ({sql}) f(a, b, n)", params)
    return agents.annotate(in_flight=in_flight).values_list(*AGENT_COLUMNS, *SWARM_COLUMNS, "in_flight")


_LIVE_AGENTS = Prepared(lambda vendor: _live_agents(vendor))
_READY = Prepared(
    lambda window, swarm_id: (
        Task.objects.filter(swarm_id=swarm_id).ready().only(*TASK_COLUMNS)[window[0] : window[0] + window[1]]
    ),
    swarm_id=str,
)
_IN_FLIGHT = Prepared(lambda key: _in_flight())


def successors(swarm_id: str, agent_id: str) -> Any:
    """The swarm's ready tasks a hand-over may take, if the swarm is executing and no other agent
    idles on a swarm with a ready task (else none: `fill()` chooses). Read FOR UPDATE SKIP LOCKED,
    the first FIRST_LOOK (`locked_first`)."""
    waiting = (
        Agent.objects.filter(status=Agent.Status.IDLE, swarm__status=Swarm.Status.EXECUTING)
        .exclude(pk=agent_id)
        .filter(Exists(Task.objects.filter(swarm=OuterRef("swarm_id")).ready()))
    )
    executing = Swarm.objects.filter(pk=swarm_id, status=Swarm.Status.EXECUTING)
    return Task.objects.filter(swarm_id=swarm_id).ready().filter(Exists(executing), ~Exists(waiting))


def locked_first(tasks: Any) -> Any:
    """The first tasks, not locked by another transaction, locked by this one (the task rows only)."""
    return tasks.select_for_update(skip_locked=True, of=("self",))[:FIRST_LOOK]


_SUCCESSORS = Prepared(
    lambda key, swarm_id, agent_id: locked_first(successors(swarm_id, agent_id).only(*TASK_COLUMNS)),
    swarm_id=str,
    agent_id=str,
)


def _candidates() -> tuple[list[_Swarm], Filled, list[Any] | None]:
    """The swarms with an idle agent, oldest first, and, on PostgreSQL, the in-flight counts read
    with them (None: read them apart)."""
    swarms: dict[str, _Swarm] = {}
    in_flight: Any = None
    width = len(AGENT_COLUMNS) + len(SWARM_COLUMNS)
    for row in _LIVE_AGENTS.read(connection.vendor):
        agent = _Agent(*row[: len(AGENT_COLUMNS)])
        swarm = swarms.get(agent.swarm_id)
        if swarm is None:
            swarm = swarms[agent.swarm_id] = _Swarm(agent.swarm_id, *row[len(AGENT_COLUMNS) : width])
        swarm.agents.append(agent)
        if len(row) > width:
            in_flight = row[width]  # the same on every row: decoded once, below
    filled = Filled(busy=set(swarms))
    with_idle = [
        swarm for swarm in swarms.values() if any(a.status == Agent.Status.IDLE for a in swarm.agents)
    ]
    decoded = _decoded(in_flight) if swarms and connection.vendor == "postgresql" else None
    return sorted(with_idle, key=lambda swarm: (swarm.created_at, swarm.id)), filled, decoded


def _decoded(in_flight: Any) -> list[tuple[str, Any, int]]:
    """The JSON rows of in-flight counts, owner ids as the ORM gives them (a UUID stays a UUID)."""
    rows = json.loads(in_flight) if isinstance(in_flight, str) else in_flight or []
    owner_id = Swarm._meta.get_field("owner").target_field.to_python
    return [(swarm_id, owner_id(owner), n) for swarm_id, owner, n in rows]


def _ready(swarm_id: str, *, limit: int, offset: int = 0) -> list[Task]:
    return _READY.read((offset, limit), swarm_id=swarm_id)


def _assign(swarms: list[_Swarm], filled: Filled, in_flight: list[Any] | None) -> None:
    running_by_swarm: Counter[str] = Counter()
    running_by_owner: Counter[Any] = Counter()
    for swarm_id, owner_id, n in _IN_FLIGHT.read() if in_flight is None else in_flight:
        running_by_swarm[swarm_id] += n
        running_by_owner[owner_id] += n
    filled.busy.update(running_by_swarm)
    free = settings.MAX_CONCURRENT_TASKS - sum(running_by_swarm.values())
    if free <= 0:
        return
    owners = _owners(swarms, running_by_swarm, running_by_owner)
    assigned = filled.assigned
    while free > 0 and owners:
        owner = owners.popleft()
        pick = _next_pick(owner)
        if pick is None:
            continue  # nothing this owner may run now: out of the rotation
        task, agent = pick
        if _take(task, agent):
            assigned.append((task.id, task.assignment_seq + 1))
            owner.running += 1
            free -= 1
        if owner.running < settings.MAX_CONCURRENT_TASKS_PER_USER:
            owners.append(owner)  # round-robin: back of the line


def _take(task: Task, agent: _Agent) -> bool:
    """Both conditional updates, or neither (a swarm command may have changed the task or agent
    since it was read): task first, then agent, the order in which a swarm command takes them;
    one round trip under the gate on PostgreSQL."""
    seq = task.assignment_seq + 1
    assigned, occupied = update_chain(
        task_assign_step(task_id=task.id, agent_id=agent.id, assignment_seq=seq),
        agent_occupy_step(agent_id=agent.id),
    )
    if assigned and not occupied:
        task_unassign(task_id=task.id, assignment_seq=seq, agent_id=task.assigned_agent_id)
    return bool(assigned and occupied)


def _owners(
    swarms: list[_Swarm], running_by_swarm: Counter[str], running_by_owner: Counter[Any]
) -> deque[_Owner]:
    owners: dict[Any, _Owner] = {}
    for swarm in swarms:
        swarm.running = running_by_swarm[swarm.id]
        owner = owners.get(swarm.owner_id) or owners.setdefault(
            swarm.owner_id, _Owner(swarm.owner_id, running_by_owner[swarm.owner_id])
        )
        owner.swarms.append(swarm)
    cap = settings.MAX_CONCURRENT_TASKS_PER_USER
    ready = sorted((o for o in owners.values() if o.running < cap), key=lambda o: o.running)
    for owner in ready:  # within an owner, the swarm with the fewest running tasks first
        owner.swarms = deque(sorted(owner.swarms, key=lambda s: s.running))
    return deque(ready)


def _next_pick(owner: _Owner) -> tuple[Task, _Agent] | None:
    """The next (task, agent) of this owner, rotating over its swarms."""
    for _ in range(len(owner.swarms)):
        swarm = owner.swarms.popleft()
        if swarm.picks is None:
            swarm.picks = deque(_plan_swarm(swarm))
        if swarm.picks:
            owner.swarms.append(swarm)
            swarm.running += 1
            return swarm.picks.popleft()
    return None


def _room(swarm: _Swarm) -> int:
    live = len(swarm.agents)
    own_limit = min(live, settings.MAX_CONCURRENT_TASKS) if swarm.parallel else 1
    return min(own_limit - swarm.running, settings.MAX_CONCURRENT_TASKS_PER_USER)


def _plan_swarm(swarm: _Swarm) -> list[tuple[Task, _Agent]]:
    room = _room(swarm)
    idle = [agent for agent in swarm.agents if agent.status == Agent.Status.IDLE]
    if room <= 0 or not idle:
        return []
    if swarm.ready is None:  # read when the rotation first reaches it: one free slot, one swarm read
        swarm.ready = _ready(swarm.id, limit=max(FIRST_LOOK, 2 * len(idle)))
    staffed = {agent.type for agent in swarm.agents}
    choose = _agents_pull if swarm.mode == Swarm.Mode.DISTRIBUTED else _best_fit
    picks = choose(list(idle), list(swarm.ready), staffed, room)
    if len(picks) < min(room, len(idle)) and len(swarm.ready) < MAX_LOOK and len(swarm.ready) >= FIRST_LOOK:
        # pins and capabilities passed over the first look: look further (rare; keeps progress)
        swarm.ready += _ready(swarm.id, limit=MAX_LOOK - len(swarm.ready), offset=len(swarm.ready))
        picks = choose(list(idle), list(swarm.ready), staffed, room)
    return picks


def _best_fit(
    agents: list[_Agent], tasks: list[Task], staffed: set[str], room: int
) -> list[tuple[Task, _Agent]]:
    picks: list[tuple[Task, _Agent]] = []
    for task in tasks:
        if len(picks) >= room or not agents:
            break
        fitting = [agent for agent in agents if eligible(agent, task, staffed)]
        if fitting:
            best = min(fitting, key=lambda a: (_extra_capabilities(a, task), a.tasks_completed, a.created_at))
            picks.append((task, best))
            agents.remove(best)
    return picks


def _agents_pull(
    agents: list[_Agent], tasks: list[Task], staffed: set[str], room: int
) -> list[tuple[Task, _Agent]]:
    picks: list[tuple[Task, _Agent]] = []
    for agent in agents:  # longest idle first
        if len(picks) >= room:
            break
        task = next((t for t in tasks if eligible(agent, t, staffed)), None)
        if task is not None:
            picks.append((task, agent))
            tasks.remove(task)
    return picks


def eligible(agent: _Agent, task: Task, staffed: set[str]) -> bool:
    if task.pinned and task.assigned_agent_id:
        return task.assigned_agent_id == agent.id
    if not agent.has_capabilities(task.required_capabilities):
        return False
    # the plan's choice of agent type holds while the swarm has such an agent
    return not task.agent_type or task.agent_type not in staffed or agent.type == task.agent_type


def _extra_capabilities(agent: _Agent, task: Task) -> int:
    own = {name for name, on in agent.capabilities.items() if on is True}
    return len(own - set(task.required_capabilities))


def _deferred() -> bool:
    state = resources.guard_state()
    if state.get("deferring"):
        logger.debug("scheduling deferred: %s", state.get("reason"))  # the guard logs the change
        return True
    return False


def swarms_without_open_work() -> list[str]:
    """Executing swarms with no open task left (e.g. started with none): settled by housekeeping."""
    return list(
        Swarm.objects.filter(status=Swarm.Status.EXECUTING)
        .exclude(Exists(Task.objects.filter(swarm=OuterRef("pk"), status__in=OPEN)))
        .values_list("id", flat=True)
    )
