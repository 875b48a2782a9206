"""The installable package (issue 13, item 8): the wheel built from this checkout carries the
templates, static files, LICENSE and the `claudeflow-server` command; installed into a fresh virtual
environment it serves `/` and runs a swarm, outside any checkout.

The fresh environment gets the dependencies from the test run's own environment (a .pth file), so
the test needs no download beyond the build backend; the project itself comes from the wheel only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # a copy of the sources without build leftovers: the wheel must come from what git tracks
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    )
    for name in files.stdout.splitlines():
        source = ROOT / name
        if source.is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(source.read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return next(out.glob("claudeflow_server-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
        env=server_env(),  # no PYTHONPATH: a checkout on it would count as claudeflow-server installed
    )
    # after the install: pip would take the test environment's (editable) claudeflow-server for it
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_wheel_carries_templates_static_files_license_and_the_command(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file():
                assert f"claudeflow_site/assets/{path.relative_to(ROOT)}" in names
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert any(n.startswith(f"{dist_info}/") and n.endswith("LICENSE") for n in names)
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "claudeflow-server = claudeflow_site.cli:main" in entry_points
    assert not any(n.startswith(("tests/", "bench/", "deploy/")) for n in names)
    assert "manage.py" not in names


def run(venv: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "claudeflow-server"), *args],
        cwd=cwd,
        env=server_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def server_env(**extra: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "DEBUG": "true",
            "SECRET_KEY": "wheel-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
            "FAKE_CLAUDE": "on",
            "FAKE_CLAUDE_LATENCY_MS": "0",
            "LOG_LEVEL": "warn",
        }
    )
    env.update(extra)
    return env


def get(url: str, key: str | None = None, method: str = "GET", body: dict | None = None) -> tuple[int, bytes]:
    headers = {"X-API-Key": key} if key else {}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError):  # not listening (yet)
        return 0, b""


def test_the_installed_command_migrates_serves_the_ui_and_runs_a_swarm(installed: Path, tmp_path: Path):
    where = subprocess.run(
        [
            installed / "bin" / "python",
            "-c",
            "import claudeflow_site, tasks; print(claudeflow_site.__file__, tasks.__file__)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=server_env(),
    )
    assert str(ROOT) not in where.stdout and "site-packages" in where.stdout, where.stdout + where.stderr

    version = run(installed, tmp_path, "version")
    assert version.stdout.strip() == "claudeflow-server 1.0.0", version.stderr
    assert run(installed, tmp_path, "migrate", "--noinput").returncode == 0
    assert (tmp_path / "var" / "db.sqlite3").is_file()  # var/ of the working directory
    check = run(installed, tmp_path, "check")
    assert check.returncode == 0 and "no issues" in check.stdout, check.stderr
    key = run(installed, tmp_path, "quickstart").stdout.strip().splitlines()[-1]
    assert key.startswith("cf_")
    assert "rundramatiq" in run(installed, tmp_path, "worker", "--help").stdout

    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [str(installed / "bin" / "claudeflow-server"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=server_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while get(f"{base}/api/health")[0] != 200:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        assert json.loads(get(f"{base}/api/health")[1])["version"] == "1.0.0"
        status, _ = get(f"{base}/")
        assert status == 302  # to the login page, not a 500
        status, page = get(f"{base}/login")
        assert status == 200 and b"<form" in page and b"/static/css/app" in page
        assert get(f"{base}/static/css/app.css")[0] == 200
        assert get(f"{base}/static/js/swarm.js")[0] == 200

        created = json.loads(
            get(
                f"{base}/api/swarm/create", key, "POST", {"objective": "Build a REST API for user management"}
            )[1]
        )
        swarm = created["swarmId"]
        assert get(f"{base}/api/swarm/{swarm}/start", key, "POST")[0] == 200
        deadline = time.monotonic() + 90
        while True:
            status = json.loads(get(f"{base}/api/swarm/{swarm}", key)[1])["data"]["status"]
            if status in ("completed", "failed", "stopped") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert status == "completed", (tmp_path / "serve.log").read_text()[-3000:]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
