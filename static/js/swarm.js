// The live swarm page: follows /ws from the event id the page was rendered at and applies every
// swarm_event to the DOM. Text from the server (names, log lines, LLM output previews) is only
// ever set with textContent, never parsed as HTML.

const TERMINAL = new Set(["completed", "failed", "stopped"]);
const ACTIVE = new Set(["planning", "awaiting_approval", "ready", "executing", "paused"]);
const GROUP_OF = {
  pending: "pending", assigned: "running", running: "running", awaiting_approval: "awaiting",
  completed: "completed", failed: "failed", cancelled: "failed",
};
const TASK_STATUS_OF_EVENT = {
  "task.assigned": "assigned", "task.started": "running", "task.completed": "completed",
  "task.failed": "failed", "task.cancelled": "cancelled", "task.revision_requested": "pending",
  "task.awaiting_approval": "awaiting_approval", "task.approved": "completed", "task.rejected": "pending",
};
// a gate opened or closed, or the swarm reopened: the page's approval forms are rendered by the
// server, so it is loaded again
const RELOAD_ON = new Set([
  "swarm.awaiting_approval", "swarm.approved", "swarm.rejected", "swarm.reopened",
  "task.awaiting_approval", "task.approved", "task.rejected",
]);
const LOG_CAP = 500;
const PING_MS = 15000; // the server closes clients silent for two heartbeats (30 s by default)
const MAX_BACKOFF_MS = 30000;
const SPEND_FIELDS = ["inputTokens", "outputTokens", "totalTokens", "costUsd"];

const root = document.getElementById("swarm-page");
const initial = JSON.parse(document.getElementById("swarm-state").textContent);

const state = {
  swarmId: root.dataset.swarmId,
  lastEventId: Number(root.dataset.lastEventId) || 0,
  status: initial.swarm.status,
  failureReason: initial.swarm.failureReason || "",
  startRequested: initial.swarm.startRequested,
  spend: { ...initial.swarm.spend },
  agents: new Map(initial.agents.map((a) => [a.id, { ...a, spend: { ...a.spend } }])),
  tasks: new Map(initial.tasks.map((t) => [t.id, { ...t, spend: { ...t.spend } }])),
  logIds: new Set(),
  socket: null,
  attempt: 0,
  pingTimer: null,
  reloading: false,
  gone: false, // deleted, or the session ended: reconnecting would not help
  settling: false, // the run ended: its figures are being fetched until settled
};

// --- small DOM helpers --------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function badge(status) {
  return el("span", `badge badge-${status}`, status);
}

function spendText(spend) {
  const tokens = Math.round(spend.totalTokens || 0).toLocaleString("en-US");
  const cost = (spend.costUsd || 0).toLocaleString("en-US", { minimumFractionDigits: 4, maximumFractionDigits: 4 });
  return `${tokens} tokens · $${cost}`;
}

function idOf(data) {
  // task.created / agent.spawned carry the API's nested id object; other events a plain id
  return data.id && typeof data.id === "object" ? data.id.id : data.id;
}

// --- rendering ----------------------------------------------------------------------------------

function renderStatus() {
  const status = $("swarm-status");
  status.className = `badge badge-${state.status}`;
  status.textContent = state.status;
  const reason = $("failure-reason");
  reason.hidden = !state.failureReason;
  reason.textContent = state.failureReason ? `Reason: ${state.failureReason}` : "";
  $("results-link").hidden = !TERMINAL.has(state.status);
  const start = $("start-form");
  if (start && !["planning", "ready"].includes(state.status)) start.hidden = true;
  renderControls();
}

function renderControls() {
  const open = state.socket?.readyState === WebSocket.OPEN;
  const allowed = {
    pause: state.status === "executing",
    resume: state.status === "paused",
    stop: ACTIVE.has(state.status),
  };
  for (const button of root.querySelectorAll("button[data-action]")) {
    button.disabled = !open || !allowed[button.dataset.action];
  }
}

function renderProgress() {
  const tasks = [...state.tasks.values()];
  const done = tasks.filter((t) => t.status === "completed").length;
  const percent = tasks.length ? Math.round((100 * done) / tasks.length) : 0;
  const bar = $("swarm-progress");
  bar.max = tasks.length || 1;
  bar.value = done;
  bar.textContent = `${percent}%`;
  $("progress-text").textContent = `${done} of ${tasks.length} tasks completed (${percent}%)`;
  $("swarm-spend").textContent = spendText(state.spend);
}

function taskItem(task) {
  const names = (task.dependencies || []).map((id) => state.tasks.get(id)?.name || id);
  const meta = el("div", "task-meta small",
    el("span", "task-assignee", task.assignedTo ? `Agent: ${task.assignedTo.name}` : "Unassigned"),
    names.length ? el("span", "task-deps", `Depends on: ${names.join(", ")}`) : null,
    el("span", "task-spend", spendText(task.spend)));
  const item = el("li", "task",
    el("div", "task-head", el("span", "task-name", task.name), " ", badge(task.status)),
    meta,
    task.error ? el("p", "task-error small", task.error) : null);
  if (task.outputPreview) {
    item.append(el("details", "task-preview small", el("summary", "", "Output preview"), el("p", "", task.outputPreview)));
  }
  item.id = `task-${task.id}`;
  item.dataset.taskId = task.id;
  item.dataset.status = task.status;
  return item;
}

function renderTasks() {
  const groups = { pending: [], running: [], awaiting: [], completed: [], failed: [] };
  const ordered = [...state.tasks.values()].sort((a, b) => (a.sequence || 0) - (b.sequence || 0));
  for (const task of ordered) groups[GROUP_OF[task.status] || "pending"].push(taskItem(task));
  for (const [key, items] of Object.entries(groups)) {
    $(`tasks-${key}`).replaceChildren(...items);
    $(`count-${key}`).textContent = String(items.length);
  }
}

function renderAgents() {
  const rows = [...state.agents.values()].map((agent) => {
    const completed = [...state.tasks.values()].filter(
      (t) => t.status === "completed" && t.assignedTo?.id === agent.id).length;
    const row = el("tr", "",
      el("td", "", agent.name), el("td", "", agent.type), el("td", "", badge(agent.status)),
      el("td", "", String(Math.max(completed, agent.tasksCompleted || 0))),
      el("td", "small", spendText(agent.spend)));
    row.id = `agent-${agent.id}`;
    row.dataset.agentId = agent.id;
    return row;
  });
  if (!rows.length) rows.push(el("tr", "empty-row", el("td", "muted", "No agents yet.")));
  $("agents-body").replaceChildren(...rows);
}

function renderAll() {
  renderStatus();
  renderProgress();
  renderTasks();
  renderAgents();
}

function showAlert(text) {
  const alerts = $("alerts");
  alerts.textContent = text;
  alerts.hidden = !text;
}

function showCommandError(text) {
  const box = $("command-error");
  box.textContent = text || "";
  box.hidden = !text;
}

function setConnection(kind, text) {
  const indicator = $("connection");
  indicator.dataset.state = kind;
  indicator.textContent = text;
  renderControls();
}

// --- the log ------------------------------------------------------------------------------------

function appendLog(data, timestamp) {
  if (data.id !== undefined && state.logIds.has(data.id)) return; // rendered with the page
  if (data.id !== undefined) state.logIds.add(data.id);
  const box = $("log-box");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
  const when = timestamp ? new Date(timestamp) : new Date();
  const time = el("time", "", when.toISOString().slice(11, 19));
  time.dateTime = when.toISOString();
  const level = data.level || "info";
  const line = el("li", `log-line log-${level}`, time, " ", el("span", "log-level", level), " ",
    el("span", "log-source", data.source || ""), " ", el("span", "log-message", data.message || ""));
  if (data.id !== undefined) line.dataset.logId = String(data.id);
  const log = $("log");
  log.append(line);
  while (log.children.length > LOG_CAP) log.firstElementChild.remove();
  if (atBottom) box.scrollTop = box.scrollHeight;
}

// --- applying events ----------------------------------------------------------------------------

function addSpend(target, delta, sign = 1) {
  for (const field of SPEND_FIELDS) target[field] = (target[field] || 0) + sign * (delta[field] || 0);
}

function applyTaskSpend(task, spend) {
  // events carry a task's total spend: the change since the last one moves the swarm and agent
  const delta = {};
  for (const field of SPEND_FIELDS) delta[field] = (spend[field] || 0) - (task.spend[field] || 0);
  task.spend = { ...spend };
  addSpend(state.spend, delta);
  const agent = task.assignedTo && state.agents.get(task.assignedTo.id);
  if (agent) addSpend(agent.spend, delta);
}

function taskFor(data) {
  const id = idOf(data);
  if (!state.tasks.has(id)) {
    const sequence = data.sequence ?? (typeof data.id === "object" ? data.id.sequence : 0);
    state.tasks.set(id, {
      id, sequence, name: data.name || id, status: "pending", assignedTo: null,
      dependencies: [], spend: { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 },
      error: null, outputPreview: "",
    });
  }
  return state.tasks.get(id);
}

function nextTaskStatus(type, data, task) {
  if (type === "task.created") return data.status || "pending";
  if (type === "task.retrying") return data.reason ? "pending" : task.status; // a lost worker vs. a retried call
  return TASK_STATUS_OF_EVENT[type] || data.status || task.status;
}

function nextTaskError(type, data, task) {
  if (task.status === "completed") return null;
  if (data.error) return data.error; // a failure, or the last failed call of a retried one
  if (data.reason && type !== "task.retrying") return data.reason; // e.g. dependency_failed
  return "error" in data ? null : task.error;
}

function applyTask(type, data) {
  const task = taskFor(data);
  task.status = nextTaskStatus(type, data, task);
  if (data.name) task.name = data.name;
  if (Array.isArray(data.dependencies)) task.dependencies = data.dependencies.map(String);
  if (data.agentId) task.assignedTo = { id: data.agentId, name: data.agentName || data.agentId };
  else if ("assignedTo" in data) task.assignedTo = data.assignedTo;
  task.error = nextTaskError(type, data, task);
  if (typeof data.outputPreview === "string") task.outputPreview = data.outputPreview;
  if (data.spend) applyTaskSpend(task, data.spend);
  renderTasks();
  renderAgents();
  renderProgress();
}

function applyAgent(type, data) {
  const id = idOf(data);
  let agent = state.agents.get(id);
  if (!agent) {
    agent = { id, name: data.name || id, type: data.type || "", status: "idle", tasksCompleted: 0,
      spend: { ...(data.spend || { inputTokens: 0, outputTokens: 0, totalTokens: 0, costUsd: 0 }) } };
    state.agents.set(id, agent);
  }
  if (data.name) agent.name = data.name;
  if (data.status) agent.status = data.status;
  if (type === "agent.terminated") agent.status = "terminated";
  renderAgents();
}

// After a run ends, the calls a stop cut off are settled (their tokens counted) a moment later, with
// no event of their own: the figures are fetched again until they can no longer change.
const SETTLE_AFTER_END_MS = [1500, 5000, 15000];

function applySwarm(type, data) {
  if (data.status) state.status = data.status;
  if (type === "swarm.failed" || type === "swarm.stopped") state.failureReason = data.reason || state.failureReason;
  renderStatus();
  if (TERMINAL.has(state.status)) settleFigures();
  else if (type.startsWith("swarm.") && type !== "swarm.command") reconcile(); // e.g. the planner's spend
}

function settleFigures() {
  reconcile();
  if (state.settling) return;
  state.settling = true;
  const last = SETTLE_AFTER_END_MS.at(-1);
  for (const delay of SETTLE_AFTER_END_MS) {
    setTimeout(async () => {
      await reconcile();
      if (delay === last) root.dataset.settled = "true"; // the figures are final
    }, delay);
  }
}

function applyBudget(data) {
  const spend = data.spend || {};
  state.spend.totalTokens = Math.max(state.spend.totalTokens || 0, spend.totalTokens || 0);
  state.spend.costUsd = Math.max(state.spend.costUsd || 0, spend.costUsd || 0);
  showAlert("The budget is exhausted: the swarm was stopped.");
  renderProgress();
}

function applyEvent(message) {
  const { eventType: type, data = {} } = message;
  if (RELOAD_ON.has(type) && !state.reloading) {
    state.reloading = true;
    setTimeout(() => window.location.reload(), 200);
  }
  if (type === "log") appendLog(data, message.timestamp);
  else if (type.startsWith("task.")) applyTask(type, data);
  else if (type.startsWith("agent.")) applyAgent(type, data);
  else if (type.startsWith("swarm.")) applySwarm(type, data);
  else if (type === "budget.exceeded") applyBudget(data);
  else if (type === "system.alert") showAlert(`System alert: ${data.message || data.level || data.type || "see the log"}`);
}

async function reconcile() {
  // task events carry task spend only; the planner's and reviewers' calls show up here
  try {
    const response = await fetch(root.dataset.stateUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const fresh = await response.json();
    state.spend = { ...fresh.swarm.spend };
    for (const agent of fresh.agents) {
      const known = state.agents.get(agent.id);
      if (known) Object.assign(known, { spend: { ...agent.spend }, tasksCompleted: agent.tasksCompleted });
    }
    // task spend too, so a later task event adds only what is new since this snapshot
    for (const task of fresh.tasks || []) {
      const known = state.tasks.get(task.id);
      if (known) known.spend = { ...task.spend };
    }
    renderProgress();
    renderAgents();
    renderTasks();
  } catch {
    // offline: the figures from the events stay
  }
}

// --- the socket ---------------------------------------------------------------------------------

function onMessage(event) {
  let message;
  try {
    message = JSON.parse(event.data);
  } catch {
    return;
  }
  if (message.type === "swarm_event") {
    if (message.swarmId !== state.swarmId || message.eventId <= state.lastEventId) return;
    applyEvent(message);
    state.lastEventId = message.eventId;
  } else if (message.type === "replay_truncated") {
    // a long absence: the server replays in pages; ask for the next one from the last event applied
    state.socket.send(JSON.stringify({ type: "subscribe", swarmId: state.swarmId, lastEventId: state.lastEventId }));
  } else if (message.type === "subscribed") {
    state.attempt = 0;
    setConnection("live", "Live");
  } else if (message.type === "command_result") {
    showCommandError("");
    if (message.status) applySwarm("swarm.command", { status: message.status });
  } else if (message.type === "error") {
    showCommandError(message.message || "The server refused the request.");
  } else if (message.type === "swarm_deleted") {
    state.gone = true;
    setConnection("offline", "Deleted");
    showAlert("This swarm was deleted.");
    state.socket.close();
  }
}

function onClose(event) {
  clearInterval(state.pingTimer);
  state.socket = null;
  if (event.code === 4401) state.gone = true; // the session ended: log in again
  if (state.gone) {
    setConnection("offline", event.code === 4401 ? "Logged out" : "Offline");
    return;
  }
  const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** state.attempt) * (0.5 + Math.random() / 2);
  state.attempt += 1;
  setConnection("reconnecting", `Reconnecting in ${Math.ceil(delay / 1000)} s…`);
  setTimeout(connect, delay);
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}${root.dataset.wsPath}`);
  state.socket = socket;
  setConnection(state.attempt ? "reconnecting" : "connecting", "Connecting…");
  socket.addEventListener("open", () => {
    // from the last event applied, so a reconnect misses nothing and repeats nothing
    socket.send(JSON.stringify({ type: "subscribe", swarmId: state.swarmId, lastEventId: state.lastEventId }));
    state.pingTimer = setInterval(() => socket.send(JSON.stringify({ type: "ping" })), PING_MS);
  });
  socket.addEventListener("message", onMessage);
  socket.addEventListener("close", onClose);
}

function sendCommand(action) {
  if (state.socket?.readyState !== WebSocket.OPEN) {
    showCommandError("Not connected; try again in a moment.");
    return;
  }
  showCommandError("");
  state.socket.send(JSON.stringify({ type: "command", swarmId: state.swarmId, action }));
}

function start() {
  for (const line of root.querySelectorAll("#log [data-log-id]")) state.logIds.add(Number(line.dataset.logId));
  $("log-box").scrollTop = $("log-box").scrollHeight;
  for (const button of root.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => sendCommand(button.dataset.action));
  }
  renderAll();
  connect();
}

start();
