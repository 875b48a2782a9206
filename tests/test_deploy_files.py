"""The deployment files in deploy/: no container engine runs here, so they are parsed and checked.

The Dockerfile, the entrypoint (run with stub `daphne`/`python` on PATH), docker-compose.yml, the
Kubernetes manifests, and the environment variable names they all set: each must be one the code
reads, so a typo or a renamed setting is caught here instead of silently doing nothing.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
SECRET_EXAMPLE = "secret.example.yaml"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CODE_PACKAGES = tuple(
    pattern.rstrip("*") for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
)
NOT_SHIPPED = {"tests", "bench"}  # top-level packages that stay out of the image and the wheel

# Names read by code that is not ours: images, the shell entrypoint, the Python runtime.
ALLOWED_NAMES = {
    "POSTGRES_PASSWORD",  # the postgres image
    "POSTGRES_USER",
    "POSTGRES_DB",
    "WORKER_PROCESSES",  # deploy/entrypoint.sh
    "WORKER_THREADS",
    "PYTHONUNBUFFERED",  # Python itself
}
ALLOWED_PREFIXES = ("dramatiq_",)  # Dramatiq reads its own dramatiq_* variables
ENTRYPOINT_NAMES = ("WORKER_PROCESSES", "WORKER_THREADS")
REQUIRED_IN_ENV_EXAMPLE = ("SECRET_KEY", "ANTHROPIC_API_KEY", "ALLOWED_HOSTS", "POSTGRES_PASSWORD")

_NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
_READ_PATTERNS = [
    re.compile(r"\benv_(?:str|int|float|bool|list|rate|raw|networks|range)\(\s*[\"']" + _NAME + "[\"']"),
    re.compile(r"\bos\.environ\.get\(\s*[\"']" + _NAME + "[\"']"),
    re.compile(r"\bos\.environ\[\s*[\"']" + _NAME + r"[\"']\s*\]"),
    re.compile(r"\bos\.getenv\(\s*[\"']" + _NAME + "[\"']"),
]


# --- helpers -----------------------------------------------------------------------------------


@functools.cache
def names_read_by_code() -> frozenset[str]:
    names: set[str] = set()
    for package in CODE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            for pattern in _READ_PATTERNS:
                names.update(pattern.findall(text))
    return frozenset(names)


def is_read(name: str) -> bool:
    read = names_read_by_code()
    if name in read or name in ALLOWED_NAMES or name.startswith(ALLOWED_PREFIXES):
        return True
    # claudeflow_site.config reads NAME_FILE for every NAME
    return name.endswith("_FILE") and name.removesuffix("_FILE") in read


def assert_all_read(names: set[str], where: str) -> None:
    unknown = sorted(name for name in names if not is_read(name))
    assert not unknown, f"{where} sets variables the code never reads: {', '.join(unknown)}"


def code_default(name: str) -> float:
    settings = (ROOT / "claudeflow_site" / "settings.py").read_text()
    match = re.search(r"env_\w+\(\s*\"" + name + r"\"\s*,\s*([0-9_.]+)", settings)
    assert match, f"settings.py has no numeric default for {name}"
    return float(match.group(1).replace("_", ""))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: comments dropped, continuations joined."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile(keyword: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile_instructions() if instruction == keyword]


def copy_sources() -> set[str]:
    """The build-context paths the Dockerfile copies (not those copied from another stage)."""
    sources = set()
    for arguments in dockerfile("COPY"):
        if "--from" not in arguments:
            sources.update(word for word in arguments.split()[:-1] if not word.startswith("--"))
    return sources


def env_example_lines() -> dict[str, tuple[str, bool]]:
    """NAME -> (value, commented out) for every `NAME=value` or `# NAME=value` line."""
    entries = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^(#\s*)?" + _NAME + r"=(.*)$", line.strip())
        if match:
            entries[match.group(2)] = (match.group(3), match.group(1) is not None)
    return entries


def yaml_strings(node: Any) -> list[str]:
    """Every string key and value in a parsed YAML document (so not its comments)."""
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in yaml_strings(key) + yaml_strings(value)]
    if isinstance(node, list):
        return [text for item in node for text in yaml_strings(item)]
    return [node] if isinstance(node, str) else []


@functools.cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def as_list(value: str | list[str]) -> list[str]:
    return value.split() if isinstance(value, str) else list(value)


def environment(service_config: dict[str, Any]) -> dict[str, str]:
    env = service_config.get("environment") or {}
    if isinstance(env, list):
        return dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def interpolate(text: str) -> str:
    """Compose's ${NAME:-default} / ${NAME:?error} / ${NAME}, with placeholder values."""
    text = re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", text)
    return re.sub(r"\$\{\w+(:?\?[^}]*)?\}", "value", text)


def depends_on(service_config: dict[str, Any]) -> dict[str, str]:
    deps = service_config.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def healthcheck_command(service_config: dict[str, Any]) -> str:
    test = service_config["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


@functools.cache
def k8s_documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        documents.extend((path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc)
    return tuple(documents)


def k8s(kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        doc
        for _, doc in k8s_documents()
        if doc["kind"] == kind and (name is None or doc["metadata"]["name"] == name)
    ]


def one(kind: str, name: str) -> dict[str, Any]:
    found = k8s(kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for _, doc in k8s_documents()
        if doc["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet")
    ]


def all_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def main_container(deployment: str) -> dict[str, Any]:
    return one("Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]


def template_labels(deployment: str) -> dict[str, str]:
    return one("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]


def container_port(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port, a number or a container port's name, as a number it declares."""
    declared = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    number = declared.get(port) if isinstance(port, str) else port
    assert number in declared.values(), f"{container['name']}: port {port!r} is not a container port"
    return number


def configmap() -> dict[str, str]:
    return one("ConfigMap", "claudeflow-config")["data"]


# --- Dockerfile ----------------------------------------------------------------------------------


def test_dockerfile_has_a_builder_and_a_runtime_stage():
    stages = dockerfile("FROM")
    assert len(stages) >= 2, stages
    assert all(stage.startswith("python:3.11-slim-bookworm") for stage in stages), stages


def test_dockerfile_builds_wheels_of_the_project_and_installs_them():
    runs = " ".join(dockerfile("RUN"))
    assert re.search(r"pip wheel\b[^&]*\s\.(\s|$)", runs), "no `pip wheel ... .` of the project"
    assert re.search(r"pip install\b[^&]*--no-index\b[^&]*/wheels", runs), (
        "runtime does not install the wheels"
    )
    assert "[test]" not in runs


def test_pyproject_declares_every_top_level_package():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - NOT_SHIPPED
    assert packages <= set(CODE_PACKAGES), (
        f"not in pyproject's packages: {sorted(packages - set(CODE_PACKAGES))}"
    )
    assert set(CODE_PACKAGES) <= packages, f"declared but missing: {sorted(set(CODE_PACKAGES) - packages)}"
    assert set(CODE_PACKAGES) <= set(PYPROJECT["tool"]["ruff"]["lint"]["isort"]["known-first-party"])


def test_dockerfile_copies_every_package_the_project_declares():
    copied = copy_sources()
    for package in CODE_PACKAGES:
        assert package in copied
    assert {"manage.py", "templates", "static", "deploy/entrypoint.sh"} <= copied


def test_dockerfile_copies_only_sources_that_exist():
    missing = sorted(source for source in copy_sources() if not (ROOT / source).exists())
    assert not missing, f"COPY sources not in the build context: {missing}"


def test_dockerfile_runs_as_a_non_root_user():
    users = dockerfile("USER")
    assert users, "no USER instruction"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user == "10001"


def test_dockerfile_healthcheck_calls_api_health_with_urllib():
    (healthcheck,) = dockerfile("HEALTHCHECK")
    assert "urllib.request" in healthcheck
    assert "http://127.0.0.1:${PORT}/api/health" in healthcheck


def test_dockerfile_entrypoint_is_tini_then_the_entrypoint_script():
    entrypoint = json.loads(dockerfile("ENTRYPOINT")[-1])
    assert entrypoint[:2] == ["tini", "--"]
    assert entrypoint[2] == "/app/deploy/entrypoint.sh"
    assert json.loads(dockerfile("CMD")[-1]) == ["web"]
    assert any("tini" in run and "apt-get install" in run for run in dockerfile("RUN"))


def test_dockerfile_collects_static_files_with_build_only_settings():
    (collect,) = [run for run in dockerfile("RUN") if "collectstatic" in run]
    assert "manage.py collectstatic --noinput" in collect
    for setting in ("DEBUG=false", "SECRET_KEY=", "ANTHROPIC_API_KEY="):
        assert setting in collect
    assert not any("SECRET_KEY" in env for env in dockerfile("ENV")), "a secret baked into the image"


def test_dockerfile_sets_the_runtime_environment_and_ports():
    env = " ".join(dockerfile("ENV"))
    for setting in ("PYTHONUNBUFFERED=1", "PORT=8000", "HOST=0.0.0.0"):
        assert setting in env
    assert dockerfile("WORKDIR")[-1] == "/app"
    assert set(" ".join(dockerfile("EXPOSE")).split()) >= {"8000", "9191"}


# --- entrypoint.sh -------------------------------------------------------------------------------

STUB = '#!/bin/sh\nprintf "%s\\n" "$PWD" "${0##*/}" "$@"\n'


def test_entrypoint_is_executable_and_valid_sh():
    assert os.access(ENTRYPOINT, os.X_OK)
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh")
    assert re.search(r"^set -eu\b", ENTRYPOINT.read_text(), re.MULTILINE)
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True, timeout=10)


@pytest.fixture(params=[shell for shell in ("sh", "bash") if shutil.which(shell)])
def run_entrypoint(request, tmp_path):
    """Runs a copy of entrypoint.sh with stub daphne and python that print cwd, name and args."""
    project = tmp_path / "app"
    (project / "deploy").mkdir(parents=True)
    script = project / "deploy" / "entrypoint.sh"
    shutil.copy(ENTRYPOINT, script)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in ("daphne", "python"):
        (stubs / name).write_text(STUB)
        (stubs / name).chmod(0o755)

    def run(*args: str, **env: str) -> list[str]:
        result = subprocess.run(
            [request.param, str(script), *args],
            env={"PATH": f"{stubs}:/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        cwd, *argv = result.stdout.splitlines()
        assert Path(cwd).resolve() == project.resolve(), "not run from the project root"
        return argv

    return run


def test_entrypoint_web_serves_the_asgi_app_with_daphne(run_entrypoint):
    assert run_entrypoint("web", HOST="0.0.0.0", PORT="8000") == [
        "daphne",
        "--bind",
        "0.0.0.0",
        "--port",
        "8000",
        "claudeflow_site.asgi:application",
    ]  # no --proxy-headers: daphne would believe any caller's X-Forwarded-For (see TRUSTED_PROXIES)


def test_entrypoint_web_honours_host_and_port(run_entrypoint):
    argv = run_entrypoint("web", HOST="127.0.0.2", PORT="9000")
    assert argv[1:5] == ["--bind", "127.0.0.2", "--port", "9000"]


def test_entrypoint_without_a_role_serves_web(run_entrypoint):
    assert run_entrypoint()[0] == "daphne"


def test_entrypoint_worker_runs_rundramatiq_with_defaults(run_entrypoint):
    assert run_entrypoint("worker") == [
        "python",
        "manage.py",
        "rundramatiq",
        "--processes",
        "2",
        "--threads",
        "12",
    ]


def test_entrypoint_worker_honours_processes_and_threads(run_entrypoint):
    argv = run_entrypoint("worker", WORKER_PROCESSES="3", WORKER_THREADS="5")
    assert argv[3:] == ["--processes", "3", "--threads", "5"]


def test_entrypoint_migrate_applies_migrations(run_entrypoint):
    assert run_entrypoint("migrate") == ["python", "manage.py", "migrate", "--noinput"]


def test_entrypoint_runs_any_other_command_as_given(run_entrypoint):
    argv = run_entrypoint("python", "manage.py", "createapikey", "--user", "alice")
    assert argv == ["python", "manage.py", "createapikey", "--user", "alice"]


# --- docker-compose.yml --------------------------------------------------------------------------

APP_SERVICES = ("migrate", "web", "worker")


def test_compose_has_the_five_services_and_no_version_key():
    assert "version" not in compose()
    assert set(compose()["services"]) == {"postgres", "redis", "migrate", "web", "worker"}


def test_compose_postgres_and_redis_have_healthchecks():
    assert service("postgres")["image"].startswith("postgres:16")
    assert "pg_isready" in healthcheck_command(service("postgres"))
    assert service("redis")["image"].startswith("redis:7")
    assert "redis-cli ping" in healthcheck_command(service("redis"))


def test_compose_postgres_keeps_its_data_in_a_named_volume():
    volumes = [volume.split(":")[0] for volume in service("postgres")["volumes"]]
    assert any(volume in (compose().get("volumes") or {}) for volume in volumes)


def test_compose_web_healthcheck_calls_api_health():
    command = healthcheck_command(service("web"))
    assert "/api/health" in command and "urllib" in command


def test_compose_app_services_run_the_entrypoint_roles():
    for role in APP_SERVICES:
        assert as_list(service(role)["command"]) == [role]


def test_compose_migrate_runs_once_after_postgres_is_healthy():
    assert service("migrate")["restart"] == "no"
    assert depends_on(service("migrate"))["postgres"] == "service_healthy"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_compose_web_and_worker_start_after_migrate_and_redis(name):
    deps = depends_on(service(name))
    assert deps.get("migrate") == "service_completed_successfully"
    assert deps.get("redis") == "service_healthy"


def test_compose_app_services_build_the_dockerfile_with_the_repo_as_context():
    for name in APP_SERVICES:
        build = service(name)["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE
        assert as_list(service(name)["env_file"]) == [".env"]


def test_compose_app_services_use_the_postgres_and_redis_services():
    for name in APP_SERVICES:
        env = environment(service(name))
        assert urlsplit(interpolate(env["DATABASE_URL"])).hostname == "postgres"
        assert urlsplit(interpolate(env["REDIS_URL"])).hostname == "redis"


def test_compose_worker_stop_grace_period_exceeds_worker_grace_seconds():
    grace = service("worker")["stop_grace_period"]
    match = re.fullmatch(r"(\d+)s", str(grace))
    assert match, f"stop_grace_period {grace!r} is not in seconds"
    assert int(match.group(1)) > code_default("WORKER_GRACE_SECONDS")


def test_compose_web_publishes_port_8000():
    assert "8000:8000" in [str(port) for port in service("web")["ports"]]


# --- environment variable names -----------------------------------------------------------------


def test_the_scan_finds_what_settings_reads():
    assert {"SECRET_KEY", "DATABASE_URL", "WORKER_GRACE_SECONDS", "ADMIN_USERNAME"} <= names_read_by_code()


def test_allow_listed_entrypoint_names_are_read_by_the_entrypoint():
    script = ENTRYPOINT.read_text()
    for name in ENTRYPOINT_NAMES:
        assert "${" + name in script


def test_env_example_names_are_read_by_the_code():
    assert_all_read(set(env_example_lines()), ".env.example")


def test_compose_env_names_are_read_by_the_code():
    # ${NAME} substitutions in any value ($$ is a literal $ for the container's shell)
    names = {name for text in yaml_strings(compose()) for name in re.findall(r"(?<!\$)\$\{?" + _NAME, text)}
    for config in compose()["services"].values():
        names |= set(environment(config))
    assert_all_read(names, "docker-compose.yml")


def test_configmap_names_are_read_by_the_code():
    assert_all_read(set(configmap()), "configmap.yaml")


def test_secret_example_names_are_read_by_the_code():
    secret = one("Secret", "claudeflow-secrets")
    assert_all_read(set(secret.get("stringData", {})) | set(secret.get("data", {})), SECRET_EXAMPLE)


def test_container_env_names_are_read_by_the_code():
    names = set()
    for _, pod_spec in pod_specs():
        for container in all_containers(pod_spec):
            env = container.get("env", [])
            for item in env:
                # a variable there only to be expanded as $(NAME) into another one is Kubernetes' to read
                others = " ".join(other.get("value", "") for other in env if other is not item)
                if f"$({item['name']})" not in others:
                    names.add(item["name"])
    assert_all_read(names, "the k8s containers' env")


def test_env_example_sets_the_required_variables():
    entries = env_example_lines()
    for name in REQUIRED_IN_ENV_EXAMPLE:
        assert name in entries and not entries[name][1], f"{name} must be set (uncommented)"


def test_readme_configuration_variables_are_in_env_example():
    readme = (ROOT / "README.md").read_text()
    section = readme.partition("\n## Configuration")[2].partition("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    documented = {token for row in rows for token in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}
    assert len(documented) > 20, "README's configuration table not found"
    missing = sorted(documented - set(env_example_lines()))
    assert not missing, f".env.example lacks README variables: {', '.join(missing)}"


def load_settings(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Imports the production settings module under exactly `env`: every value is validated there."""
    env = {"PATH": os.environ["PATH"], "CLAUDEFLOW_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-c", "import claudeflow_site.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_environment_passes_settings_validation(tmp_path):
    env = {name: value for name, (value, commented) in env_example_lines().items() if not commented}
    env |= {name: interpolate(value) for name, value in environment(service("web")).items()}
    result = load_settings(env, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_configmap_and_secret_example_pass_settings_validation(tmp_path):
    secret = one("Secret", "claudeflow-secrets")["stringData"]
    result = load_settings({**configmap(), **secret}, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_env_example_allows_the_host_the_container_healthcheck_uses():
    allowed = env_example_lines()["ALLOWED_HOSTS"][0].split(",")
    assert "127.0.0.1" in allowed


# --- Kubernetes ----------------------------------------------------------------------------------

EXPECTED_KINDS = {
    "namespace.yaml": ["Namespace"],
    "configmap.yaml": ["ConfigMap"],
    SECRET_EXAMPLE: ["Secret"],
    "migrate-job.yaml": ["Job"],
    "web-deployment.yaml": ["Deployment"],
    "web-service.yaml": ["Service", "Service"],
    "worker-deployment.yaml": ["Deployment"],
    "hpa.yaml": ["HorizontalPodAutoscaler", "HorizontalPodAutoscaler"],
    "pdb.yaml": ["PodDisruptionBudget", "PodDisruptionBudget"],
    "kustomization.yaml": ["Kustomization"],
}


def test_every_k8s_document_parses_with_kind_and_name():
    for filename, doc in k8s_documents():
        assert doc.get("apiVersion") and doc.get("kind"), filename
        assert doc["kind"] == "Kustomization" or doc["metadata"].get("name"), filename


def test_k8s_files_hold_the_expected_kinds():
    kinds: dict[str, list[str]] = {}
    for filename, doc in k8s_documents():
        kinds.setdefault(filename, []).append(doc["kind"])
    assert kinds == EXPECTED_KINDS


def test_k8s_api_versions():
    assert all(doc["apiVersion"] == "autoscaling/v2" for doc in k8s("HorizontalPodAutoscaler"))
    assert all(doc["apiVersion"] == "policy/v1" for doc in k8s("PodDisruptionBudget"))
    assert all(doc["apiVersion"] == "apps/v1" for doc in k8s("Deployment"))


def test_kustomization_lists_every_manifest_but_the_secret_example():
    (kustomization,) = k8s("Kustomization")
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", SECRET_EXAMPLE}
    assert sorted(kustomization["resources"]) == sorted(present)


def test_k8s_resources_carry_the_app_labels():
    for filename, doc in k8s_documents():
        if doc["kind"] == "Kustomization":
            continue
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/name") == "claudeflow", f"{filename}: {doc['kind']}"
        if doc["kind"] in ("Deployment", "Job", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            assert labels.get("app.kubernetes.io/component"), f"{filename}: {doc['kind']} has no component"


@pytest.mark.parametrize(
    ("deployment", "component"), [("claudeflow-web", "web"), ("claudeflow-worker", "worker")]
)
def test_deployment_selector_matches_its_pods(deployment, component):
    selector = one("Deployment", deployment)["spec"]["selector"]["matchLabels"]
    assert selector.items() <= template_labels(deployment).items()
    assert template_labels(deployment)["app.kubernetes.io/component"] == component


@pytest.mark.parametrize(("deployment", "role"), [("claudeflow-web", "web"), ("claudeflow-worker", "worker")])
def test_deployments_run_their_entrypoint_role(deployment, role):
    assert main_container(deployment)["args"] == [role]


def test_migrate_job_runs_migrate():
    job = one("Job", "claudeflow-migrate")
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["containers"][0]["args"] == ["migrate"]
    assert pod_spec["restartPolicy"] in ("Never", "OnFailure")


def test_web_liveness_probe_uses_api_health():
    assert main_container("claudeflow-web")["livenessProbe"]["httpGet"]["path"] == "/api/health"


def test_web_readiness_probe_uses_api_ready():
    assert main_container("claudeflow-web")["readinessProbe"]["httpGet"]["path"] == "/api/ready"


def test_web_probes_target_the_container_port():
    container = main_container("claudeflow-web")
    for probe in ("livenessProbe", "readinessProbe"):
        assert container_port(container, container[probe]["httpGet"]["port"]) == 8000


def test_web_probes_send_an_allowed_host():
    allowed = configmap()["ALLOWED_HOSTS"].split(",")
    container = main_container("claudeflow-web")
    for probe in ("livenessProbe", "readinessProbe"):
        headers = {h["name"].lower(): h["value"] for h in container[probe]["httpGet"].get("httpHeaders", [])}
        assert headers.get("host") in allowed, f"{probe}: the pod IP as Host would be refused"


def test_web_pods_also_allow_their_pod_ip_as_host():
    env = main_container("claudeflow-web")["env"]
    names = [item["name"] for item in env]
    pod_ip = env[names.index("POD_IP")]
    assert pod_ip["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    allowed = env[names.index("ALLOWED_HOSTS")]["value"]
    assert names.index("POD_IP") < names.index("ALLOWED_HOSTS"), (
        "$(POD_IP) is expanded only if defined before"
    )
    assert allowed.split(",") == ["$(ALLOWED_HOSTS)", "$(POD_IP)"]
    assert configmap()["ALLOWED_HOSTS"]


def test_worker_liveness_probe_does_not_depend_on_http_serving():
    container = main_container("claudeflow-worker")
    probe = container["livenessProbe"]
    assert "exec" in probe and "httpGet" not in probe
    command = " ".join(probe["exec"]["command"])
    assert "9191" in command and "WORKER_METRICS_PORT" in command
    assert container_port(container, "metrics") == int(configmap()["WORKER_METRICS_PORT"]) == 9191


def test_every_container_sets_resource_requests_and_limits():
    for name, pod_spec in pod_specs():
        for container in all_containers(pod_spec):
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), (
                    f"{name}/{container['name']}: {kind}"
                )


@pytest.mark.parametrize("deployment", ["claudeflow-web", "claudeflow-worker"])
def test_app_containers_have_the_spec_resources(deployment):
    assert main_container(deployment)["resources"] == {
        "requests": {"memory": "2Gi", "cpu": "1000m"},
        "limits": {"memory": "4Gi", "cpu": "2000m"},
    }


def test_containers_take_their_environment_from_the_configmap_and_secret():
    expected = {("configMapRef", "claudeflow-config"), ("secretRef", "claudeflow-secrets")}
    assert one("ConfigMap", "claudeflow-config") and one("Secret", "claudeflow-secrets")
    for name, pod_spec in pod_specs():
        for container in all_containers(pod_spec):
            refs = {(kind, ref["name"]) for item in container["envFrom"] for kind, ref in item.items()}
            assert refs == expected, f"{name}/{container['name']}"


def test_pods_run_as_the_images_non_root_user():
    for name, pod_spec in pod_specs():
        context = pod_spec["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert str(context["runAsUser"]) == dockerfile("USER")[-1].split(":")[0], name


def test_web_has_a_termination_grace_period():
    assert (
        one("Deployment", "claudeflow-web")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 0
    )


def test_worker_termination_grace_covers_worker_grace_seconds():
    pod_spec = one("Deployment", "claudeflow-worker")["spec"]["template"]["spec"]
    grace = float(configmap().get("WORKER_GRACE_SECONDS", code_default("WORKER_GRACE_SECONDS")))
    assert pod_spec["terminationGracePeriodSeconds"] >= grace + 15


@pytest.mark.parametrize(("deployment", "port"), [("claudeflow-web", "8000"), ("claudeflow-worker", "9191")])
def test_pods_carry_prometheus_scrape_annotations(deployment, port):
    annotations = one("Deployment", deployment)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == port
    assert container_port(main_container(deployment), int(port)) == int(port)


def test_hpas_scale_the_web_and_worker_deployments_on_cpu():
    targets = set()
    for hpa in k8s("HorizontalPodAutoscaler"):
        spec = hpa["spec"]
        ref = spec["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and one("Deployment", ref["name"])
        assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        targets.add(ref["name"])
    assert targets == {"claudeflow-web", "claudeflow-worker"}


def test_pdb_selectors_match_pod_labels():
    covered = set()
    for pdb in k8s("PodDisruptionBudget"):
        assert pdb["spec"]["minAvailable"] == 1
        selector = pdb["spec"]["selector"]["matchLabels"]
        matching = [
            d["metadata"]["name"]
            for d in k8s("Deployment")
            if selector.items() <= template_labels(d["metadata"]["name"]).items()
        ]
        assert len(matching) == 1, f"PDB {pdb['metadata']['name']} selects {matching}"
        covered.update(matching)
    assert covered == {"claudeflow-web", "claudeflow-worker"}


def test_web_service_selects_web_pods_and_maps_80_to_8000():
    web = one("Service", "claudeflow-web")
    assert web["spec"]["selector"].items() <= template_labels("claudeflow-web").items()
    assert web["spec"]["selector"]["app.kubernetes.io/component"] == "web"
    ports = {port["name"]: port for port in web["spec"]["ports"]}
    assert ports["http"]["port"] == 80
    assert container_port(main_container("claudeflow-web"), ports["http"]["targetPort"]) == 8000
    assert "metrics" in ports


def test_worker_metrics_service_selects_worker_pods():
    service_ = one("Service", "claudeflow-worker-metrics")
    assert service_["spec"]["selector"].items() <= template_labels("claudeflow-worker").items()
    (port,) = service_["spec"]["ports"]
    assert container_port(main_container("claudeflow-worker"), port["targetPort"]) == 9191
