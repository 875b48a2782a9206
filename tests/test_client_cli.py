"""The `claudeflow` console script, run as a user runs it (its own process; a pseudo-terminal for
the live view and Ctrl-C) against a real daphne server."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from access.services import apikey_create
from swarms.models import Swarm
from tasks.models import Task
from tests.client_server import live_server
from tests.conftest import OBJECTIVE
from tests.helpers import wait_for
from workspaces.models import WorkspaceFile

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("server_settled"),
]
CLI = str(Path(sys.executable).parent / "claudeflow")


@pytest.fixture(scope="module")
def server(django_db_setup: None, fake_server: Any) -> Iterator[str]:
    with live_server(fake_server.url) as base:
        yield base


@pytest.fixture
def env(server: str, alice: Any, fake_claude: Any, tmp_path: Path) -> dict[str, str]:
    key = apikey_create(owner=alice, name="cli", permissions=["read", "write", "admin"])[1]
    return {
        **os.environ,
        "CLAUDEFLOW_URL": server,
        "CLAUDEFLOW_API_KEY": key,
        "CLAUDEFLOW_CONFIG": str(tmp_path / "no-config.toml"),  # not the developer's own
        "COLUMNS": "120",
        "NO_COLOR": "1",
    }


def cli(env: dict[str, str], *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def cli_json(env: dict[str, str], *args: str) -> Any:
    done = cli(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def on_pty(
    env: dict[str, str],
    *args: str,
    react: Callable[[str, int], bytes | None] | None = None,
    timeout: float = 90,
) -> tuple[int, str]:
    """Runs the CLI with a pseudo-terminal as its controlling terminal (so \\x03 is a real Ctrl-C);
    `react(output so far, fd)` may answer with bytes to type. Returns (exit code, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [CLI, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={k: v for k, v in env.items() if k not in ("COLUMNS", "NO_COLOR")} | {"TERM": "xterm-256color"},
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(
            0, termios.TIOCSCTTY, 0
        ),  # runs after setsid: the pty becomes the controlling terminal
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
            if react and (answer := react(output.decode(errors="replace"), master)):
                os.write(master, answer)
        else:
            raise AssertionError(f"the CLI did not finish:\n{output.decode(errors='replace')[-3000:]}")
        return process.wait(10), output.decode(errors="replace")
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        os.close(master)


# --- run ------------------------------------------------------------------------------------------


def test_run_follows_the_swarm_and_prints_json_exit_0(env: dict[str, str]) -> None:
    done = cli(env, "run", OBJECTIVE, "--strategy", "development", "--max-agents", "2", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["swarm"]["status"] == "completed" and answer["swarm"]["maxAgents"] == 2
    assert answer["results"]["outputs"] and answer["results"]["tasks"]["completed"] >= 1


def test_run_watch_shows_a_live_view_on_a_terminal_and_writes_out(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, output = on_pty(
        env, "run", OBJECTIVE, "--strategy", "development", "--max-agents", "2", "--budget-usd", "5",
        "--watch", "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    swarm = Swarm.objects.get()
    tasks = list(Task.objects.filter(swarm=swarm))
    assert swarm.status == "completed"
    assert swarm.id in output and "Tasks" in output and f"{len(tasks)}/{len(tasks)} done" in output
    assert "of $5.00 budget" in output  # spend against the budget
    assert all(agent.name in output for agent in swarm.agents.all())  # each agent's row
    assert any(f"task.completed {task.name}" in output for task in tasks)  # the last log lines
    assert "swarm completed" in output
    assert "\x1b[" in output  # drawn with terminal control sequences, not plain lines

    summary = json.loads((out / "summary.json").read_text())
    assert summary["swarm"]["id"] == swarm.id and summary["results"]["outputs"]
    outputs = sorted((out / "outputs").iterdir())
    assert len(outputs) == len(tasks)
    assert {p.read_text() for p in outputs} == {t.output for t in tasks}
    stored = {
        f.path: f.content for f in WorkspaceFile.objects.filter(swarm=swarm).order_by("path", "-version")
    }
    written = {str(p.relative_to(out / "workspace")): p.read_text() for p in (out / "workspace").rglob("*") if p.is_file()} if stored else {}  # fmt: skip
    assert written == {path: content for path, content in stored.items()}


def test_run_without_watch_prints_a_line_per_step_then_the_summary(env: dict[str, str]) -> None:
    done = cli(env, "run", OBJECTIVE, "--strategy", "development", "--max-agents", "2")
    assert done.returncode == 0, done.stderr
    tasks = list(Task.objects.all())
    assert all(f"task.completed {task.name}" in done.stderr for task in tasks)
    assert "swarm.completed" in done.stderr and "\x1b[" not in done.stdout  # plain text off a terminal
    assert f"Tasks: {len(tasks)} completed, 0 failed" in done.stdout


def test_a_failed_swarm_exits_1(env: dict[str, str]) -> None:
    done = cli(env, "run", OBJECTIVE, "--strategy", "development", "--budget-tokens", "1", "--json")
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert json.loads(done.stdout)["swarm"]["failureReason"] == "budget_exhausted"


def test_usage_errors_exit_2(env: dict[str, str]) -> None:
    for args in (
        ["run"],  # no objective
        ["run", OBJECTIVE, "--max-agents", "many"],
        ["run", OBJECTIVE, "--strategy", "guess"],
        ["run", OBJECTIVE, "--detach", "--watch"],
        ["swarms", "nope"],
        ["keys", "create", "x", "--permissions", "root"],
    ):
        done = cli(env, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
    refused = cli(env, "run", "too short")  # the server's validation: also the user's input
    assert refused.returncode == 2 and "objective" in refused.stderr
    assert not Swarm.objects.exists()


def test_ctrl_c_asks_and_stops_the_swarm(env: dict[str, str], fake_claude: Any) -> None:
    fake_claude.configure(latency_ms=1500)
    sent: list[bytes] = []

    def react(output: str, fd: int) -> bytes | None:
        if not sent and "Tasks" in output:  # the live view is up
            sent.append(b"\x03")
            return b"\x03"
        if len(sent) == 1 and "Stop swarm" in output:
            sent.append(b"y\r")
            return b"y\r"
        return None

    code, output = on_pty(env, "run", OBJECTIVE, "--strategy", "development", "--watch", react=react)
    assert sent == [b"\x03", b"y\r"], output
    assert code == 1, output
    assert Swarm.objects.get().status == "stopped" and "stopped" in output


def test_ctrl_c_then_no_leaves_the_swarm_running(env: dict[str, str], fake_claude: Any) -> None:
    fake_claude.configure(latency_ms=1500)
    sent: list[bytes] = []

    def react(output: str, fd: int) -> bytes | None:
        if not sent and "Tasks" in output:
            sent.append(b"\x03")
            return b"\x03"
        if len(sent) == 1 and "Stop swarm" in output:
            sent.append(b"n\r")
            return b"n\r"
        return None

    code, output = on_pty(env, "run", OBJECTIVE, "--strategy", "development", "--watch", react=react)
    assert code == 130 and "claudeflow watch" in output, output
    swarm = Swarm.objects.get()
    assert swarm.status in ("planning", "ready", "executing")
    cli(env, "swarms", "stop", swarm.id)


# --- swarms, watch, keys --------------------------------------------------------------------------


def test_swarm_commands_read_and_control_a_swarm(env: dict[str, str], fake_claude: Any) -> None:
    fake_claude.configure(latency_ms=4000)  # slow enough to pause and resume it while it runs
    swarm_id = cli(env, "run", OBJECTIVE, "--strategy", "development", "--detach").stdout.strip()
    assert swarm_id.startswith("swarm_")
    wait_for(lambda: Swarm.objects.get(pk=swarm_id).status == "executing", 30)

    assert [s["id"] for s in cli_json(env, "swarms", "ls")] == [swarm_id]
    assert swarm_id in cli(env, "swarms", "ls").stdout
    shown = cli_json(env, "swarms", "show", swarm_id)
    assert shown["swarm"]["id"] == swarm_id and shown["agents"] and shown["tasks"]
    assert "Tasks" in cli(env, "swarms", "show", swarm_id).stdout

    assert cli_json(env, "swarms", "pause", swarm_id)["status"] == "paused"
    conflict = cli(env, "swarms", "pause", swarm_id)
    assert conflict.returncode == 1 and "409" in conflict.stderr
    assert cli_json(env, "swarms", "resume", swarm_id)["status"] == "executing"
    assert cli_json(env, "swarms", "stop", swarm_id)["status"] == "stopped"

    logs = cli_json(env, "swarms", "logs", swarm_id, "--limit", "5")
    assert 0 < len(logs) <= 5 and all({"level", "message", "timestamp"} <= set(e) for e in logs)
    assert all(
        e["level"] in ("warn", "error") for e in cli_json(env, "swarms", "logs", swarm_id, "--level", "warn")
    )
    results = cli_json(env, "swarms", "results", swarm_id)
    assert results["swarmId"] == swarm_id and results["status"] == "stopped"

    watched = cli(env, "watch", swarm_id, "--json")  # already over: prints and exits at once
    assert watched.returncode == 1 and json.loads(watched.stdout)["swarm"]["status"] == "stopped"

    assert cli(env, "swarms", "rm", swarm_id, "--yes").returncode == 0
    missing = cli(env, "swarms", "show", swarm_id)
    assert missing.returncode == 1 and "404" in missing.stderr


def test_watch_of_a_completed_swarm_exits_0(env: dict[str, str]) -> None:
    swarm_id = json.loads(cli(env, "run", OBJECTIVE, "--strategy", "development", "--json").stdout)["swarm"][
        "id"
    ]
    watched = cli(env, "watch", swarm_id)
    assert watched.returncode == 0 and "completed" in watched.stdout


def test_keys_are_listed_created_and_revoked(env: dict[str, str]) -> None:
    created = cli_json(env, "keys", "create", "ci", "--permissions", "read", "--expires-in-days", "7")
    assert created["key"].startswith("cf_") and created["data"]["permissions"] == ["read"]
    assert created["data"]["id"] in {k["id"] for k in cli_json(env, "keys", "ls")}
    plain = cli(env, "keys", "create", "plain")
    assert plain.returncode == 0 and plain.stdout.strip().startswith("cf_")  # the secret alone on stdout

    ci = {**env, "CLAUDEFLOW_API_KEY": created["key"]}
    assert cli(ci, "swarms", "ls", "--json").returncode == 0
    assert cli_json(env, "keys", "revoke", created["data"]["id"])["active"] is False
    refused = cli(ci, "swarms", "ls")
    assert refused.returncode == 1 and "401" in refused.stderr


def test_the_config_file_supplies_url_and_key(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'url = "{env["CLAUDEFLOW_URL"]}"\napi_key = "{env["CLAUDEFLOW_API_KEY"]}"\n')
    bare = {k: v for k, v in env.items() if not k.startswith("CLAUDEFLOW_")} | {
        "CLAUDEFLOW_CONFIG": str(config)
    }
    assert cli(bare, "swarms", "ls", "--json").stdout.strip() == "[]"
    assert cli(bare, "--config", str(config), "keys", "ls", "--json").returncode == 0

    config.write_text('url = "http://x"\npassword = "no"\n')
    bad = cli(bare, "swarms", "ls")
    assert bad.returncode == 1 and "unknown keys password" in bad.stderr
