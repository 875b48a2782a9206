"""The first hour of a newcomer (issue 13): bin/run's one development key and its port check, a 401
that says why, and the .env file that lets manage.py commands run outside bin/run."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from access.models import ApiKey, hash_key
from access.services import apikey_create, apikey_revoke
from tests.conftest import make_user

ROOT = Path(__file__).resolve().parent.parent


# --- a 401 says why -------------------------------------------------------------------------------


def refused(anon_client, raw: str) -> dict:
    anon_client.credentials(HTTP_X_API_KEY=raw)
    response = anon_client.get("/api/swarms")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'ApiKey header="X-API-Key"'
    body = response.json()
    assert set(body) == {"error", "message"} and body["error"] == "Authentication required"
    return body


@pytest.mark.django_db
def test_a_revoked_key_is_401_saying_revoked(anon_client, alice):
    key, raw = apikey_create(owner=alice, name="ci", permissions=["read"])
    apikey_revoke(key_id=key.id)
    message = refused(anon_client, raw)["message"]
    assert "revoked" in message and key.prefix in message and raw not in message


@pytest.mark.django_db
def test_an_expired_key_is_401_saying_expired(anon_client, alice):
    _, raw = apikey_create(
        owner=alice, name="ci", permissions=["read"], expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert "expired" in refused(anon_client, raw)["message"]


@pytest.mark.django_db
def test_a_deactivated_owners_key_is_401_saying_so(anon_client):
    carol = make_user("carol", is_active=False)
    _, raw = apikey_create(owner=carol, name="ci", permissions=["read"])
    assert "deactivated" in refused(anon_client, raw)["message"]


@pytest.mark.django_db
def test_an_unknown_key_is_401_saying_unknown(anon_client, alice):
    apikey_create(owner=alice, name="ci", permissions=["read"])
    assert refused(anon_client, "cf_123")["message"].startswith("Unknown API key")


@pytest.mark.django_db
def test_no_credentials_keep_the_spec_body(anon_client):
    body = anon_client.get("/api/swarms").json()
    assert body == {"error": "Authentication required", "message": "Provide valid API key or JWT token"}


# --- quickstart keeps one development key in var/ -----------------------------------------------


def last_line(capsys) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


@pytest.mark.django_db
def test_quickstart_keeps_one_key_in_var_readable_by_its_owner_only(capsys, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("quickstart")
    first = last_line(capsys)
    call_command("quickstart")
    assert last_line(capsys) == first
    key_file = tmp_path / "dev_api_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_quickstart_leaves_other_keys_alone(capsys, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("quickstart")
    admin_key = ApiKey.objects.get()
    _, other = apikey_create(owner=admin_key.owner, name="quickstart", permissions=["read"])
    call_command("quickstart")
    assert ApiKey.objects.usable().count() == 2  # nothing revoked: a running server's key keeps working
    assert last_line(capsys) != other


@pytest.mark.django_db
def test_quickstart_replaces_a_revoked_development_key_and_says_why(capsys, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("quickstart")
    first = last_line(capsys)
    apikey_revoke(key_id=ApiKey.objects.get(key_hash=hash_key(first)).id)
    call_command("quickstart")
    out = capsys.readouterr().out
    assert "no longer works" in out and "revoked" in out
    second = out.strip().splitlines()[-1]
    assert second != first and (tmp_path / "dev_api_key").read_text().strip() == second
    assert ApiKey.objects.usable().get().key_hash == hash_key(second)


@pytest.mark.django_db
def test_quickstart_does_not_reuse_another_users_key(capsys, settings, tmp_path, alice):
    settings.VAR_DIR = tmp_path
    _, raw = apikey_create(owner=alice, name="mine", permissions=["read"])
    (tmp_path / "dev_api_key").write_text(raw)
    call_command("quickstart")
    out = capsys.readouterr().out
    assert "belongs to 'alice'" in out and out.strip().splitlines()[-1] != raw


# --- bin/run checks the port before touching anything ----------------------------------------------


def test_bin_run_refuses_a_busy_port_before_touching_anything(tmp_path):
    (tmp_path / "bin").mkdir()
    shutil.copy(ROOT / "bin" / "run", tmp_path / "bin" / "run")
    marker = tmp_path / "setup-ran"
    (tmp_path / "bin" / "setup").write_text(f"#!/usr/bin/env bash\ntouch {marker}\nexit 1\n")
    (tmp_path / "bin" / "setup").chmod(0o755)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            ["bash", str(tmp_path / "bin" / "run")],
            env={**os.environ, "PORT": str(port), "HOST": "127.0.0.1"},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Serving on" not in result.stdout
    assert not marker.exists() and not (tmp_path / "var").exists() and not (tmp_path / ".env").exists()


def test_bin_run_goes_on_when_the_port_is_free(tmp_path):
    (tmp_path / "bin").mkdir()
    shutil.copy(ROOT / "bin" / "run", tmp_path / "bin" / "run")
    marker = tmp_path / "setup-ran"
    (tmp_path / "bin" / "setup").write_text(f"#!/usr/bin/env bash\ntouch {marker}\nexit 7\n")
    (tmp_path / "bin" / "setup").chmod(0o755)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run(
        ["bash", str(tmp_path / "bin" / "run")],
        env={**os.environ, "PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 7 and marker.exists()  # it went on to bin/setup


# --- .env: manage.py commands work outside bin/run ---------------------------------------------


def manage(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CLAUDEFLOW_DOTENV", "SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL")
    }
    base.update({"DJANGO_SETTINGS_MODULE": "claudeflow_site.settings", "PYTHONPATH": str(ROOT), **env})
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=cwd, env=base, capture_output=True, text=True
    )


PRINT_SETTINGS = [
    "shell",
    "--no-imports",
    "-c",
    "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)",
]


def test_manage_py_reads_the_env_file(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# written by bin/run\nDEBUG=false\nSECRET_KEY=from-the-dotenv-file-0123456789abcdef\n")
    result = manage(PRINT_SETTINGS, tmp_path, CLAUDEFLOW_DOTENV=str(dotenv))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "from-the-dotenv-file-0123456789abcdef"]


def test_the_environment_wins_over_the_env_file(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("DEBUG=false\nSECRET_KEY=from-the-dotenv-file-0123456789abcdef\n")
    result = manage(
        PRINT_SETTINGS,
        tmp_path,
        CLAUDEFLOW_DOTENV=str(dotenv),
        SECRET_KEY="from-the-environment-0123456789abcdef",
    )
    assert result.stdout.split() == ["False", "from-the-environment-0123456789abcdef"], result.stderr


def test_without_an_env_file_the_error_names_the_variable(tmp_path):
    result = manage(PRINT_SETTINGS, tmp_path, CLAUDEFLOW_DOTENV="off")
    assert result.returncode == 2
    assert "configuration error: SECRET_KEY is required when DEBUG=false" in result.stderr


def test_a_missing_named_env_file_is_a_configuration_error(tmp_path):
    result = manage(PRINT_SETTINGS, tmp_path, CLAUDEFLOW_DOTENV=str(tmp_path / "nope.env"))
    assert result.returncode == 2 and "CLAUDEFLOW_DOTENV: no file at" in result.stderr


# --- validation messages that teach ------------------------------------------------------------------

OBJECTIVE_TEXT = "Build a REST API for user management"


def problems(response) -> dict[str, dict]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "Validation failed" and body["message"] == "Request is invalid"
    return {item["field"]: item for item in body["details"]}


@pytest.mark.django_db
def test_a_bad_strategy_lists_the_strategies_and_the_one_meant(client_of_alice):
    body = {"objective": OBJECTIVE_TEXT, "strategy": "developement"}
    found = problems(client_of_alice.post("/api/swarm/create", body, format="json"))
    item = found["strategy"]
    assert item["value"] == "developement"
    assert item["message"].startswith("strategy must be one of ")
    for strategy in ("auto", "research", "development", "microservices", "security-audit"):
        assert strategy in item["message"]
    assert 'got "developement" (did you mean "development"?)' in item["message"]


@pytest.mark.django_db
def test_a_choice_nothing_like_the_valid_ones_gets_no_suggestion(client_of_alice):
    body = {"objective": OBJECTIVE_TEXT, "mode": "anarchy"}
    message = problems(client_of_alice.post("/api/swarm/create", body, format="json"))["mode"]["message"]
    assert message == 'mode must be one of centralized, distributed, hierarchical; got "anarchy"'


@pytest.mark.django_db
def test_nested_and_listed_choices_list_their_values(client_of_alice, swarm_of_alice):
    body = {"objective": OBJECTIVE_TEXT, "options": {"verbosity": "loud"}}
    found = problems(client_of_alice.post("/api/swarm/create", body, format="json"))
    assert found["options.verbosity"]["message"].startswith(
        "verbosity must be one of minimal, normal, detailed"
    )
    task = {
        "name": "Write it",
        "description": "Write the whole thing",
        "type": "codin",
        "priority": "urgent",
        "requirements": {"permissions": ["read", "admin"]},
    }
    found = problems(client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/tasks", task, format="json"))
    assert found["type"]["message"].endswith('got "codin" (did you mean "coding"?)')
    assert found["priority"]["message"].startswith("priority must be one of low, normal, high, critical")
    assert "must be one of read, write, execute" in found["requirements.permissions.1"]["message"]
    spawn = client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/agents", {"type": "coderr"}, format="json")
    assert 'did you mean "coder"?' in problems(spawn)["type"]["message"]


@pytest.mark.django_db
def test_a_query_parameter_choice_lists_its_values(client_of_alice, swarm_of_alice):
    response = client_of_alice.get(f"/api/swarm/{swarm_of_alice.id}/logs?level=verbose")
    assert (
        problems(response)["level"]["message"]
        == 'level must be one of debug, info, warn, error; got "verbose"'
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("max_agents", "maxAgents"),
        ("maxagents", "maxAgents"),
        ("MaxAgents", "maxAgents"),
        ("paralel", "parallel"),
    ],
)
def test_a_field_spelled_another_way_is_reported_with_the_field_meant(client_of_alice, sent, meant):
    from swarms.models import Swarm

    body = {"objective": OBJECTIVE_TEXT, sent: 3}
    item = problems(client_of_alice.post("/api/swarm/create", body, format="json"))[sent]
    assert item == {"field": sent, "message": f'Unknown field "{sent}"; did you mean "{meant}"?', "value": 3}
    assert not Swarm.objects.exists()  # refused, not created with the default


@pytest.mark.django_db
def test_a_misspelled_field_is_reported_with_the_other_problems(client_of_alice):
    body = {"objectve": OBJECTIVE_TEXT, "strategy": "nope"}
    found = problems(client_of_alice.post("/api/swarm/create", body, format="json"))
    assert set(found) == {"objective", "objectve", "strategy"}
    assert found["objectve"]["message"] == 'Unknown field "objectve"; did you mean "objective"?'


@pytest.mark.django_db
def test_a_misspelled_nested_field_names_the_nested_field(client_of_alice, swarm_of_alice):
    task = {
        "name": "Write it",
        "description": "Write the whole thing",
        "type": "coding",
        "requirements": {"Capabilities": ["python"]},
    }
    found = problems(client_of_alice.post(f"/api/swarm/{swarm_of_alice.id}/tasks", task, format="json"))
    assert found["requirements.Capabilities"]["message"].endswith('did you mean "requirements.capabilities"?')


@pytest.mark.django_db
def test_unknown_fields_that_resemble_nothing_are_still_ignored(client_of_alice):
    body = {"objective": OBJECTIVE_TEXT, "owner_id": 7, "colour": "blue"}
    assert client_of_alice.post("/api/swarm/create", body, format="json").status_code == 201


# --- the installed package's generic top-level names -------------------------------------------------


def test_a_distribution_claiming_one_of_our_package_names_is_reported(tmp_path, monkeypatch):
    from claudeflow_site.checks import check_top_level_packages

    assert check_top_level_packages() == []
    dist = tmp_path / "celery_tasks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: celery-tasks\nVersion: 1.0\n")
    (dist / "RECORD").write_text("tasks/__init__.py,,\ncelery_tasks-1.0.dist-info/METADATA,,\n")
    (tmp_path / "tasks").mkdir()  # Python ≥ 3.12 lists only the recorded files that exist
    (tmp_path / "tasks" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    (warning,) = check_top_level_packages()
    assert warning.id == "claudeflow.W010" and "'tasks' is also installed by celery-tasks" in warning.msg


def test_a_package_shadowing_ours_is_an_error(tmp_path, monkeypatch):
    import types

    from claudeflow_site.checks import check_top_level_packages

    shadow = types.ModuleType("ui")
    shadow.__file__ = str(tmp_path / "elsewhere" / "ui" / "__init__.py")
    monkeypatch.setitem(sys.modules, "ui", shadow)
    (error,) = check_top_level_packages()
    assert error.id == "claudeflow.E010" and "'ui' is imported from" in error.msg


def test_the_uv_lock_file_matches_pyproject():
    """uv.lock pins every dependency for reproducible installs (`uv sync --frozen`); after a change
    to pyproject.toml's dependencies run `uv lock` (pip install uv) and commit it."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    def key(name: str, extras: list[str], specifier: str, extra: str) -> tuple:
        specifiers = tuple(sorted(str(s) for s in Requirement(f"x{specifier}").specifier))
        return canonicalize_name(name), tuple(sorted(extras)), specifiers, extra

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"": project["dependencies"], **project["optional-dependencies"]}
    wanted = {
        key(r.name, list(r.extras), str(r.specifier), extra)
        for extra, items in groups.items()
        for r in map(Requirement, items)
    }
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (root,) = [p for p in lock["package"] if p["name"] == "claudeflow-server"]
    locked = {
        key(
            item["name"],
            item.get("extras", []),
            item.get("specifier", ""),
            item.get("marker", "").removeprefix("extra == '").removesuffix("'"),
        )
        for item in root["metadata"]["requires-dist"]
    }
    assert locked == wanted, "uv.lock is stale: run `uv lock`"


# --- bin/run writes the development values to .env once ------------------------------------------


def run_until_migrate(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """bin/run in a throw-away project whose bin/setup does nothing and whose python stops at migrate."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    shutil.copy(ROOT / "bin" / "run", tmp_path / "bin" / "run")
    (tmp_path / "bin" / "setup").write_text("#!/usr/bin/env bash\n")
    (tmp_path / "bin" / "setup").chmod(0o755)
    (tmp_path / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    python = tmp_path / ".venv" / "bin" / "python"
    python.write_text(
        '#!/usr/bin/env bash\ncase "$1" in -c) echo generated-secret-0123456789-abcdefghijklmnop;; *) exit 9;; esac\n'
    )
    python.chmod(0o755)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "SECRET_KEY_FILE")}
    return subprocess.run(
        ["bash", str(tmp_path / "bin" / "run")],
        env={**base, "PORT": str(port), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def dotenv_values(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_bin_run_writes_the_development_values_once(tmp_path):
    result = run_until_migrate(tmp_path)
    assert result.returncode == 9  # it went on to migrate
    assert "Wrote the development settings to .env (DEBUG, SECRET_KEY)" in result.stdout
    values = dotenv_values(tmp_path / ".env")
    assert values == {"DEBUG": "true", "SECRET_KEY": "generated-secret-0123456789-abcdefghijklmnop"}
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    before = (tmp_path / ".env").read_text()
    again = run_until_migrate(tmp_path)
    assert "Wrote" not in again.stdout and (tmp_path / ".env").read_text() == before


def test_bin_run_adds_only_what_an_existing_env_file_lacks(tmp_path):
    (tmp_path / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-mine\nDEBUG=false")  # no final newline
    result = run_until_migrate(tmp_path)
    assert "(SECRET_KEY)" in result.stdout
    values = dotenv_values(tmp_path / ".env")
    assert values["ANTHROPIC_API_KEY"] == "sk-ant-mine" and values["DEBUG"] == "false"
    assert values["SECRET_KEY"].startswith("generated-secret")


def test_bin_run_writes_no_secret_the_environment_gives(tmp_path):
    run_until_migrate(tmp_path, SECRET_KEY="from-the-environment-0123456789-abcdefghij")
    assert "SECRET_KEY" not in dotenv_values(tmp_path / ".env")
